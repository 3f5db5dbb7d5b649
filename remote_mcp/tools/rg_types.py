"""ripgrep's file types (``rg --type NAME``), for the grep fallback.

With ripgrep on the remote, Grep's ``type`` goes to rg unchanged; the find +
GNU grep fallback needs the globs each type stands for. These are ripgrep
13's definitions of the common types, kept as the text ``rg --type-list``
prints so the table can be checked against a real rg line by line; rg
itself knows many more. Data only: ``RG_TYPES`` maps a name to its globs.
"""

from __future__ import annotations

import re

__all__ = ["RG_TYPES"]

_RG_TYPE_LIST = """
asm: *.S *.asm *.s
c: *.[chH] *.[chH].in *.cats
clojure: *.clj *.cljc *.cljs *.cljx
cmake: *.cmake CMakeLists.txt
config: *.cfg *.conf *.config *.ini
cpp: *.[ChH] *.[ChH].in *.[ch]pp *.[ch]pp.in *.[ch]xx *.[ch]xx.in *.cc *.cc.in *.hh *.hh.in
    *.inl
cs: *.cs
csharp: *.cs
css: *.css *.scss
csv: *.csv
dart: *.dart
docker: *Dockerfile*
elixir: *.eex *.ex *.exs
erlang: *.erl *.hrl
go: *.go
gradle: *.gradle
groovy: *.gradle *.groovy
haskell: *.c2hs *.cpphs *.hs *.hsc *.lhs
html: *.ejs *.htm *.html
java: *.java *.jsp *.jspx *.properties
js: *.js *.jsx *.vue
json: *.json composer.lock
jsonl: *.jsonl
julia: *.jl
kotlin: *.kt *.kts
less: *.less
log: *.log
lua: *.lua
make: *.mak *.mk [Gg][Nn][Uu]makefile [Gg][Nn][Uu]makefile.am [Gg][Nn][Uu]makefile.in
    [Mm]akefile [Mm]akefile.am [Mm]akefile.in
markdown: *.markdown *.md *.mdown *.mkdn
md: *.markdown *.md *.mdown *.mkdn
objc: *.h *.m
ocaml: *.ml *.mli *.mll *.mly
perl: *.PL *.perl *.pl *.plh *.plx *.pm *.t
php: *.php *.php3 *.php4 *.php5 *.phtml
py: *.py
r: *.R *.Rmd *.Rnw *.r
rst: *.rst
ruby: *.gemspec *.rb *.rbw .irbrc Gemfile Rakefile config.ru
rust: *.rs
sass: *.sass *.scss
scala: *.sbt *.scala
sh: *.bash *.bashrc *.csh *.cshrc *.ksh *.kshrc *.sh *.tcsh *.zsh .bash_login .bash_logout
    .bash_profile .bashrc .cshrc .kshrc .login .logout .profile .tcshrc .zlogin .zlogout
    .zprofile .zshenv .zshrc bash_login bash_logout bash_profile bashrc profile zlogin zlogout
    zprofile zshenv zshrc
sql: *.psql *.sql
swift: *.swift
tex: *.bib *.cls *.dtx *.ins *.ltx *.sty *.tex
tf: *.tf
toml: *.toml Cargo.lock
ts: *.ts *.tsx
txt: *.txt
xml: *.dtd *.rng *.sch *.xhtml *.xjb *.xml *.xml.dist *.xsd *.xsl *.xslt
yaml: *.yaml *.yml
zig: *.zig
"""
RG_TYPES: dict[str, tuple[str, ...]] = {
    name: tuple(globs.split())
    for name, globs in re.findall(r"^(\w+): (.*?)(?=^\w|\Z)", _RG_TYPE_LIST, re.M | re.S)
}
