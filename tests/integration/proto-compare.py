#!/usr/bin/env python3
"""Compare two .proto files by what goes on the wire and into generated names.

    proto-compare.py THEIRS.proto OURS.proto

Both are reduced to one line per fact: the syntax and package; every service with each rpc,
its request and response types and `stream`; every message (nested ones by their dotted
name) with each field's label, type, name and number (maps as map<K,V>, oneofs named);
every enum with each value's name and number. Comments, imports and options (gogoproto's
[(gogoproto.nullable) = false] and the like, option go_package, enum options) are dropped,
and a type is named in full (Info in package p is p.Info), so a file that imports
another by a different path compares equal. Prints the facts only one side has and exits
1 when there are any, 0 when the two agree.
"""
import re
import sys

SCALARS = {"double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
           "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes"}

TOKEN = re.compile(r'''\s+|//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_][\w.]*|\.[A-Za-z_][\w.]*|-?\d+|.''', re.S)


def tokens(text):
    out = []
    for m in TOKEN.finditer(text):
        t = m.group(0)
        if t.isspace() or t.startswith("//") or t.startswith("/*"):
            continue
        out.append(t)
    return out


class Parser:
    def __init__(self, toks, path):
        self.t, self.i, self.path = toks, 0, path
        self.facts = []
        self.package = ""
        self.defined = set()  # dotted names of messages and enums, relative to the package
        self.fields = []  # (fact prefix, type as written, scope, rest): types resolved at the end
        self.rpcs = []  # (service, rpc, stream?, request, stream?, response), resolved at the end

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def next(self):
        if self.i >= len(self.t):
            raise SyntaxError("%s: unexpected end of file" % self.path)
        self.i += 1
        return self.t[self.i - 1]

    def expect(self, want):
        got = self.next()
        if got != want:
            raise SyntaxError("%s: expected %r, got %r (token %d)" % (self.path, want, got, self.i))

    def skip_statement(self):
        """Up to and including the next ';' at this level (or a {...} block)."""
        depth = 0
        while True:
            t = self.next()
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    if self.peek() == ";":
                        self.next()
                    return
            elif t == ";" and depth == 0:
                return

    def skip_brackets(self):
        """A field's [option = value, ...], if there is one."""
        if self.peek() == "[":
            depth = 0
            while True:
                t = self.next()
                depth += t == "["
                depth -= t == "]"
                if depth == 0:
                    return

    def parse(self):
        while self.peek() is not None:
            t = self.next()
            if t == "syntax":
                self.expect("=")
                self.facts.append("syntax %s" % self.next().strip("\"'"))
                self.expect(";")
            elif t == "package":
                self.package = self.next()
                self.facts.append("package %s" % self.package)
                self.expect(";")
            elif t in ("import", "option"):
                self.skip_statement()
            elif t == "service":
                self.service()
            elif t == "message":
                self.message("")
            elif t == "enum":
                self.enum("")
            elif t == ";":
                continue
            else:
                raise SyntaxError("%s: unexpected %r at the top level" % (self.path, t))
        out = list(self.facts)
        for prefix, typ, scope, rest in self.fields:
            out.append("%s%s %s" % (prefix, self.resolve(typ, scope), rest))
        for svc, rpc, req_stream, req, resp_stream, resp in self.rpcs:
            out.append("service %s rpc %s(%s%s) returns (%s%s)" % (
                svc, rpc, "stream " if req_stream else "", self.resolve(req, ""),
                "stream " if resp_stream else "", self.resolve(resp, "")))
        return out

    def resolve(self, typ, scope):
        if typ.startswith("map<"):
            k, v = typ[4:-1].split(",")
            return "map<%s,%s>" % (self.resolve(k, scope), self.resolve(v, scope))
        if typ in SCALARS:
            return typ
        if typ.startswith("."):
            return typ[1:]
        # innermost scope first, as protoc does, then the package, then as written
        parts = scope.split(".") if scope else []
        while True:
            cand = ".".join(parts + [typ])
            if cand in self.defined:
                return "%s.%s" % (self.package, cand) if self.package else cand
            if not parts:
                break
            parts.pop()
        return typ

    def service(self):
        name = self.next()
        self.expect("{")
        self.facts.append("service %s" % name)
        while True:
            t = self.next()
            if t == "}":
                return
            if t == "option" or t == ";":
                if t == "option":
                    self.skip_statement()
                continue
            if t != "rpc":
                raise SyntaxError("%s: unexpected %r in service %s" % (self.path, t, name))
            rpc = self.next()
            self.expect("(")
            req = self.next()
            req_stream = req == "stream"
            if req_stream:
                req = self.next()
            self.expect(")")
            self.expect("returns")
            self.expect("(")
            resp = self.next()
            resp_stream = resp == "stream"
            if resp_stream:
                resp = self.next()
            self.expect(")")
            if self.peek() == "{":  # a body of options
                self.skip_statement()
            else:
                self.expect(";")
            self.rpcs.append((name, rpc, req_stream, req, resp_stream, resp))

    def message(self, outer):
        name = self.next()
        full = "%s.%s" % (outer, name) if outer else name
        self.defined.add(full)
        self.facts.append("message %s" % full)
        self.expect("{")
        self.message_body(full, None)

    def message_body(self, full, oneof):
        while True:
            t = self.next()
            if t == "}":
                return
            if t == ";":
                continue
            if t in ("option", "reserved", "extensions"):
                self.skip_statement()
                if t == "reserved":
                    self.facts.append("message %s reserved" % full)  # rare: flag it, both sides
                continue
            if t == "message":
                self.message(full)
                continue
            if t == "enum":
                self.enum(full)
                continue
            if t == "oneof":
                oname = self.next()
                self.expect("{")
                self.facts.append("message %s oneof %s" % (full, oname))
                self.message_body(full, oname)
                continue
            label = ""
            if t in ("repeated", "optional", "required"):
                label, t = t, self.next()
            typ = t
            if typ == "map":
                self.expect("<")
                k = self.next()
                self.expect(",")
                v = self.next()
                self.expect(">")
                typ = "map<%s,%s>" % (k, v)
            fname = self.next()
            self.expect("=")
            num = self.next()
            self.skip_brackets()
            self.expect(";")
            where = " oneof %s" % oneof if oneof else ""
            self.fields.append(("message %s%s field %s" % (full, where, (label + " ") if label else ""),
                                typ, full, "%s = %s" % (fname, num)))

    def enum(self, outer):
        name = self.next()
        full = "%s.%s" % (outer, name) if outer else name
        self.defined.add(full)
        self.facts.append("enum %s" % full)
        self.expect("{")
        while True:
            t = self.next()
            if t == "}":
                return
            if t == ";":
                continue
            if t in ("option", "reserved"):
                self.skip_statement()
                continue
            self.expect("=")
            num = self.next()
            self.skip_brackets()
            self.expect(";")
            self.facts.append("enum %s value %s = %s" % (full, t, num))


def facts(path):
    with open(path, encoding="utf-8") as f:
        return Parser(tokens(f.read()), path).parse()


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    theirs, ours = sys.argv[1], sys.argv[2]
    try:
        a, b = facts(theirs), facts(ours)
    except (OSError, SyntaxError) as e:
        print("proto-compare: %s" % e, file=sys.stderr)
        return 2
    only_a = [f for f in a if f not in set(b)]
    only_b = [f for f in b if f not in set(a)]
    for f in only_a:
        print("only in %s: %s" % (theirs, f))
    for f in only_b:
        print("only in %s: %s" % (ours, f))
    if only_a or only_b:
        return 1
    print("%s and %s agree: %d facts" % (theirs, ours, len(a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
