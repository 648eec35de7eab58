# bash completion for cvol and cvol-mount                               -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `make install` puts this file in bash-completion's completions dir twice, as `cvol` and as
# `cvol-mount` (bash-completion loads completions/<command> on the first TAB); either copy
# defines both. Layer ids and volume names come from `cvol --root ROOT layer ls` and
# `cvol --root ROOT volume ls` (ROOT: the line's --root, else $CVOL_ROOT, else /var/lib/cvol),
# run only when the store's dir is there and readable, for at most 2 seconds, stderr silenced:
# a missing store offers nothing and creates nothing.
#
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)): bash-completion's idiom; no names with blanks

# The store of the line: the last --root DIR or --root=DIR on it (but the word completed);
# $CVOL_ROOT; /var/lib/cvol. Sets the variable named $1.
_cvol_store_root()
{
    local i r=''
    for ((i = 1; i < ${#words[@]}; i++)); do
        ((i == cword)) && continue
        case ${words[i]} in
            --root) ((i + 1 != cword)) && r=${words[i + 1]-} ;;
            --root=*) r=${words[i]#--root=} ;;
            --) break ;;
        esac
    done
    [[ $r ]] || r=${CVOL_ROOT:-/var/lib/cvol}
    __expand_tilde_by_ref r
    printf -v "$1" %s "$r"
}

# The cvol to ask: the one beside the command completed when it was given with a path
# (./cvol-mount), else cvol in PATH.
_cvol_binary()
{
    local cmd=${words[0]}
    __expand_tilde_by_ref cmd
    if [[ $cmd == */* && -x ${cmd%/*}/cvol ]]; then
        printf '%s\n' "${cmd%/*}/cvol"
    else
        type -P cvol
    fi
}

# The first column of `cvol --root ROOT KIND ls` (KIND layer or volume; its dir in the store is
# overlay or volumes), one name a line; nothing when the store is not there or cannot be read.
_cvol_store_names()
{
    local kind=$1 dir root cvol
    [[ $kind == layer ]] && dir=overlay || dir=volumes
    _cvol_store_root root
    [[ -d $root/$dir && -r $root/$dir && -x $root/$dir ]] || return 0
    cvol=$(_cvol_binary) || return 0
    if type -P timeout &>/dev/null; then
        timeout 2 "$cvol" --root "$root" "$kind" ls 2>/dev/null
    else
        "$cvol" --root "$root" "$kind" ls 2>/dev/null
    fi | awk 'NR > 1 && $1 ~ /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ { print $1 }'
}

# COMPREPLY: the store's layer ids that start with $cur; with `writable`, not the layers of
# cvol-snapshotter (snapshot-*), which `layer mount` and `layer rm` refuse.
_cvol_layer_ids()
{
    local ids
    ids=$(_cvol_store_names layer)
    [[ ${1-} == writable ]] && ids=$(grep -v '^snapshot-' <<<"$ids")
    COMPREPLY=($(compgen -W "$ids" -- "$cur"))
}

_cvol_volume_names()
{
    COMPREPLY=($(compgen -W "$(_cvol_store_names volume)" -- "$cur"))
}

# COMPREPLY from a comma list (cur = "a,b,c"): the items of $1 (space-separated; an item ending
# in = takes a value) after the last comma, items already in the list left out; after
# "key=", the values of key from $2 ("key=v1|v2 ..."). An item ending in = gets no space.
_cvol_comma_list()
{
    local items=$1 values=$2 last=${cur##*,} item word
    local prefix=${cur%"$last"}
    COMPREPLY=()
    if [[ $last == *=* ]]; then
        for word in $values; do
            [[ ${word%%=*} == "${last%%=*}" ]] || continue
            word=${word#*=}
            for item in ${word//|/ }; do
                [[ ${last%%=*}=$item == "$last"* ]] && COMPREPLY+=("$prefix${last%%=*}=$item")
            done
        done
    else
        for item in $items; do
            [[ ,$prefix == *",${item%=}"[,=]* ]] && continue
            [[ $item == "$last"* ]] && COMPREPLY+=("$prefix$item")
        done
        [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    fi
    # readline completes only what follows the last = (it is in COMP_WORDBREAKS): drop what
    # comes before, as __ltrim_colon_completions does for ':'
    if [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then
        local eq_word=${cur%"${cur##*=}"} i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$eq_word"}
        done
    fi
}

# The number of operands between words[$1] and the word completed: options, and the values of
# the options of $2 (a |-list such as "--parent|-p"), left out.
_cvol_count_operands()
{
    local _i _n=0
    for ((_i = $1 + 1; _i < cword; _i++)); do
        case ${words[_i]} in
            -*) [[ "|$2|" == *"|${words[_i]}|"* ]] && ((_i++)) ;;
            *) ((_n++)) ;;
        esac
    done
    echo "$_n"
}

_cvol_layer()
{
    local sub=$1 sub_i=$2 n
    case $prev in
        --parent | -p)
            _cvol_layer_ids
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        local opts="--help"
        case $sub in
            create) opts+=" --parent" ;;
            import) opts+=" --parent --userxattr" ;;
            umount) opts+=" --force" ;;
            ls) opts+=" --json" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    n=$(_cvol_count_operands "$sub_i" "--parent|-p")
    case $sub in
        export | diff | umount) ((n == 0)) && _cvol_layer_ids ;;
        mount | rm) ((n == 0)) && _cvol_layer_ids writable ;;
        import) ((n == 1)) && _filedir ;;
    esac
}

_cvol_volume()
{
    local sub=$1 sub_i=$2 n
    case $prev in
        --opt | -o)
            [[ $sub == create ]] &&
                _cvol_comma_list "type= device= o= size= fs= uid= gid= mode= ro= create=" \
                    "ro=true|false create=true|false fs=ext4|xfs"
            # one KEY=VALUE an -o: nothing after a comma
            [[ $cur == *,* ]] && COMPREPLY=()
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        local opts="--help"
        case $sub in
            create) opts+=" --opt" ;;
            ls) opts+=" --json" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    n=$(_cvol_count_operands "$sub_i" "--opt|-o")
    case $sub in
        inspect | rm | mount | umount) ((n == 0)) && _cvol_volume_names ;;
    esac
}

_cvol()
{
    local cur prev words cword split
    _init_completion -s || return

    case $prev in
        --root)
            _filedir -d
            return
            ;;
    esac
    $split && return

    # The command: the first word that is not a global option or --root's value.
    local i cmd='' cmd_i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --root) ((i++)) ;;
            -*) ;;
            *)
                cmd=${words[i]} cmd_i=$i
                break
                ;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--root --json --help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "info layer image volume" -- "$cur"))
        fi
        return
    fi

    # The subcommand: the word after the command.
    local sub='' sub_i=$((cmd_i + 1))
    ((sub_i < cword)) && sub=${words[sub_i]}
    case $cmd in
        info)
            COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
            ;;
        layer | volume | image)
            local subs
            case $cmd in
                layer) subs="create import export diff mount umount rm ls" ;;
                volume) subs="create ls inspect rm mount umount" ;;
                image) subs="import" ;;
            esac
            if [[ -z $sub ]]; then
                [[ $cur == -* ]] && subs="--help"
                COMPREPLY=($(compgen -W "$subs" -- "$cur"))
                return
            fi
            [[ " $subs " == *" $sub "* ]] || return
            case $cmd in
                layer) _cvol_layer "$sub" "$sub_i" ;;
                volume) _cvol_volume "$sub" "$sub_i" ;;
                image) ((cword == sub_i + 1)) && _filedir ;;
            esac
            ;;
    esac
} &&
    complete -F _cvol cvol

_cvol_mount()
{
    local cur prev words cword split
    _init_completion -s -n : || return

    # After `--` (--exec): the command to run and its arguments.
    local i
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} == -- ]]; then
            _command_offset $((i + 1))
            return
        fi
    done

    case $prev in
        --lower)
            # DIR[:DIR...]: directories after the last colon
            local last=${cur##*:}
            local prefix=${cur%"$last"}
            cur=$last
            _filedir -d
            for i in "${!COMPREPLY[@]}"; do
                COMPREPLY[i]=$prefix${COMPREPLY[i]}
            done
            cur=$prefix$last
            __ltrim_colon_completions "$cur"
            return
            ;;
        --upper | --work | --check | --umount | --root)
            _filedir -d
            return
            ;;
        --options | -o)
            _cvol_comma_list "volatile userxattr metacopy= redirect_dir= index= xino= nfs_export= uuid= verity=" \
                "metacopy=on|off redirect_dir=on|off|follow|nofollow index=on|off xino=on|off|auto
                 nfs_export=on|off uuid=on|off|null|auto verity=on|off|require"
            return
            ;;
        --layers)
            _cvol_layer_ids
            return
            ;;
        --seccomp)
            _filedir
            COMPREPLY+=($(compgen -W unconfined -- "$cur"))
            return
            ;;
        --help | -h | --version)
            return
            ;;
    esac
    $split && return

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--lower --upper --work --options --read-only --layers --root
            --exec --seccomp --keep --check --umount --json --help --version" -- "$cur"))
        return
    fi
    # The mount point.
    _filedir -d
} &&
    complete -F _cvol_mount cvol-mount

# ex: filetype=sh
