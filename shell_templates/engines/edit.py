"""The Edit (and Write) engine: one python3 process does the whole edit on the remote.

Run as ``python3 -I -S -c PROGRAM FILE TMP BAK KIND EXPECTED MISSING MAX_SIZE
HASH_MAX`` by edit.sh.j2 (PROGRAM is this file minus docstrings and comments),
with the edits on stdin: their count, then per edit old and new base64 and two
flag digits (replace_all, clash). It checks the precondition on the file it
opens (KIND sha256: EXPECTED is the hash the session last saw, checked on the
bytes read; stat: ``SIZE MTIME`` as ``stat -c '%s %y'`` prints them, checked
before reading; ``-``: none, or the shell checked it), applies the edits,
writes the new content to TMP (created 0600 so no other user can read it
meanwhile) and puts it in place by the rule of
docs/explanation/file-identity.md, hashing each content at most once, in
memory, and a new content over HASH_MAX bytes not at all.

Prints the reply line (``ok REPLACED SNIPPET`` or a refusal word such as
``toolarge SIZE LIMIT``), then ``done SHA256 SIZE MTIME`` (SHA256 ``-``: not
hashed) or a commit
refusal line: stale | denied | failed STEP TEXT | corrupt. Exit 0 =
committed, 10 = refused with nothing changed.

write.sh.j2 runs ``write_main`` (Write's precondition and commit) as the
program ``... -c PROGRAM FILE TMP BAK KIND EXPECTED``, PROGRAM being only the
functions it needs (remote_mcp/tools/edit.py, write_program).

Start-up is most of a small edit's cost: modules that take milliseconds to
import (re, hashlib, base64) are imported only where a call needs them.

remote_mcp/tools/edit.py imports this file too: the local fallback and the
tests run the same matching functions. edit.pl is a port; change both
together. Must run on any python3 >= 3.6: no annotations, no walrus.
"""

import binascii
import os
import sys
import time

REFUSED_EXIT = 10
QUOTE_GROUPS = (
    (b"'", b"\xe2\x80\x98", b"\xe2\x80\x99"),
    (b'"', b"\xe2\x80\x9c", b"\xe2\x80\x9d"),
)
CONTEXT_LINES = 4  # Claude Code's snippet context
SNIPPET_LINE_BYTES = 8000  # enough bytes for 2000 UTF-8 characters
LINES_SHOWN = 20  # match line numbers reported for "multiple"
BLANK = b" \t\n\r\x0b\x0c"  # what counts as a blank file (old_string "" may replace it)


def regex(source):
    """``re`` compiled: imported on first use, as the import alone costs
    python3 a third of its start-up and a plain edit never needs it."""
    import re

    return re.compile(source)


def sha256_hex(data):
    """The hex sha256 of ``data``. hashlib (OpenSSL) hashes a big content twice
    as fast but takes ~3 ms to import; the builtin module does a small one."""
    if len(data) < 1 << 20:
        try:
            from _sha256 import sha256  # python3 <= 3.11
        except ImportError:
            try:
                from _sha2 import sha256  # python3 >= 3.12
            except ImportError:
                from hashlib import sha256
    else:
        from hashlib import sha256
    return sha256(data).hexdigest()


def sha256_later(data):
    """A function that returns the hex sha256 of ``data`` (bytes, or a tuple
    of parts: see apply_edits). A big content is hashed in a thread meanwhile
    (hashlib lets go of the GIL while it hashes), so the hash overlaps the
    edit, the write and the fsync instead of adding to them."""
    parts = data if isinstance(data, tuple) else (data,)
    if size_of(data) < 1 << 20:
        whole = b"".join(parts)
        return lambda: sha256_hex(whole)
    import _thread  # threading would cost an import of its own
    from hashlib import sha256

    done = _thread.allocate_lock()
    done.acquire()
    digest = []

    def run():
        try:
            hashed = sha256()
            for part in parts:
                hashed.update(part)
            digest.append(hashed.hexdigest())
        finally:
            done.release()

    _thread.start_new_thread(run, ())

    def wait():
        with done:
            return digest[0]

    return wait


def utf8_error(data):
    """Offset of the first byte that is not well-formed UTF-8, or -1."""
    try:
        if data.isascii():  # python3 >= 3.7; much faster than decoding
            return -1
    except AttributeError:
        pass
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return -1


def literal(chunk, has_cr):
    """Regex source matching ``chunk`` as Claude Code matches on LF-normalised
    text: LF also matches CRLF, and a lone CR never eats the LF of a CRLF.
    In content without CR that is the chunk itself, which ``re`` searches
    for as a plain string (ten times faster on a big file). Only ASCII
    letters and digits stay bare; other bytes become ``\\xHH``, which Python
    and Perl read alike."""
    out = []
    for byte in bytearray(chunk):
        if byte == 10 and has_cr:
            out.append(b"\\r?\\n")
        elif byte == 13 and has_cr:
            out.append(b"\\r(?!\\n)")
        elif 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122:
            out.append(bytes(bytearray([byte])))
        else:
            out.append((f"\\x{byte:02x}").encode("ascii"))
    return b"".join(out)


def pattern(old, fold_quotes, has_cr=True):
    """Regex source for ``old``; with ``fold_quotes`` a straight or curly quote
    matches any quote of its kind (Claude Code's quote normalisation)."""
    out = []
    i = 0
    while i < len(old):
        group = None
        width = 1
        if fold_quotes:
            for quotes in QUOTE_GROUPS:
                for quote in quotes:
                    if group is None and old.startswith(quote, i):
                        group = quotes
                        width = len(quote)
        if group is None:
            out.append(literal(old[i : i + 1], has_cr))
        else:
            out.append(b"(?:" + b"|".join(literal(q, has_cr) for q in group) + b")")
        i += width
    return b"".join(out)


def find(data, regex):
    """(number of matches, offset of the first, line numbers of the first few)."""
    count = 0
    first = -1
    line = 1
    last = 0
    lines = []
    for match in regex.finditer(data):
        count += 1
        if first < 0:
            first = match.start()
        if len(lines) < LINES_SHOWN:
            line += data.count(b"\n", last, match.start())
            last = match.start()
            lines.append(line)
    return count, first, lines


def find_literal(data, old, line_wanted=True):
    """``find`` for a pattern that is plain bytes (content without CR, no
    quote folding): bytes.find, several times faster than the regex on a big
    file, with the same non-overlapping matches. The whole content is counted
    only when there are more matches than line numbers shown; a single
    match's line only when ``line_wanted`` (lines then is empty)."""
    first = data.find(old)
    if not line_wanted and first >= 0 and data.find(old, first + len(old)) < 0:
        return 1, first, []
    lines = []
    line = 1
    last = 0
    at = first
    while at >= 0 and len(lines) < LINES_SHOWN:
        line += data.count(b"\n", last, at)
        last = at
        lines.append(line)
        at = data.find(old, at + len(old))
    count = len(lines) if at < 0 else data.count(old)
    return count, first, lines


def snippet(content, start, new_lines, line=None):
    """``FIRST_LINE HEX``: the lines around an edit at byte ``start``, as Claude
    Code picks them (4 before, the new text, 4 after; split like JS
    ``split(/\\r?\\n/)``, so a final newline shows as an empty last line).
    ``line``: the 0-based line of ``start`` when the caller counted it already."""
    if line is None:
        line = content.count(b"\n", 0, start)
    first = max(0, line - CONTEXT_LINES)
    wanted = line + CONTEXT_LINES + new_lines - first
    cut = content.rfind(b"\n", 0, start)
    for _ in range(line - first):
        cut = content.rfind(b"\n", 0, cut)
    pos = cut + 1
    lines = []
    while len(lines) < wanted:
        end = content.find(b"\n", pos)
        if end < 0:
            lines.append(content[pos:][:SNIPPET_LINE_BYTES])
            break
        piece = content[pos:end]
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        lines.append(piece[:SNIPPET_LINE_BYTES])
        pos = end + 1
    shown = b"\n".join(lines).hex()
    return f"{first + 1} {shown}"


def snippet_around(data, first, end, styled, line):
    """``snippet`` of ``data`` with ``data[first:end]`` replaced by ``styled``,
    cut from just the lines it shows (``line``: the 0-based line of ``first``)."""
    cut = data.rfind(b"\n", 0, first)
    for _ in range(min(line, CONTEXT_LINES)):
        cut = data.rfind(b"\n", 0, cut)
    start = cut + 1
    stop = end
    for _ in range(CONTEXT_LINES + 2):
        stop = data.find(b"\n", stop) + 1
        if stop == 0:
            stop = len(data)
            break
    window = b"".join((data[start:first], styled, data[end:stop]))
    new_lines = styled.replace(b"\r\n", b"\n").count(b"\n") + 1
    return snippet(window, first - start, new_lines, line)


def apply_edits(data, edits, parts=False):
    """Apply ``(old, new, replace_all, clash)`` edits in order, all or none.

    Returns (new content, reply) or (None, refusal reply). ``clash`` is
    precomputed by the caller: old_string occurs in an earlier new_string.
    With ``parts``, one plain edit returns the content as a tuple (before,
    new, after) of views of ``data``: a big file is then written and hashed
    without being copied once more.
    Reply words: ok REPLACED (FIRST_LINE HEX | -) | notutf8 OFFSET | clash I |
    exists I | notfound I | multiple I COUNT LINE,LINE,... | nochange I | identical
    """
    bad = utf8_error(data)
    if bad >= 0:
        return None, f"notutf8 {bad}"
    crlf = b"\r" in data and data.count(b"\r\n") * 2 > data.count(b"\n")
    current = data
    replaced = 0
    first = 0
    first_line = 0
    for index, (old, new, replace_all, clash) in enumerate(edits):
        if clash:
            return None, f"clash {index}"
        old = old.replace(b"\r\n", b"\n")
        styled = new
        if crlf:
            styled = new.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        before = current
        has_cr = b"\r" in current
        if not old:
            if current.strip(BLANK):
                return None, f"exists {index}"
            current = styled
            first = 0
            first_line = 0
            count = 1
        else:
            # Content without CR: plain bytes operations, no regex (nor its import).
            compiled = None
            if has_cr:
                compiled = regex(pattern(old, False, has_cr))
                count, first, lines = find(current, compiled)
            else:
                with_line = len(edits) == 1 and not replace_all  # the snippet needs it
                count, first, lines = find_literal(current, old, with_line)
            if count == 0:
                match = regex(pattern(old, True, has_cr)).search(current)
                if match is None:
                    return None, f"notfound {index}"
                actual = current[match.start() : match.end()].replace(b"\r\n", b"\n")
                compiled = regex(pattern(actual, False, has_cr))
                count, first, lines = find(current, compiled)
            if count > 1 and not replace_all:
                return None, f"multiple {index} {count} {','.join(map(str, lines))}"
            first_line = lines[0] - 1 if lines else None
            # Deleting text also deletes the line break right after it.
            eats_break = not new and not old.endswith(b"\n")
            if compiled is None and not replace_all:
                end = first + len(old)
                if eats_break and current[end : end + 1] == b"\n":
                    end += 1
                if current[first:end] == styled:
                    return None, f"nochange {index}"
                if len(edits) > 1:
                    # Several edits change one private copy in place: a new
                    # content per edit costs a big file's size each time.
                    if not isinstance(current, bytearray):
                        current = bytearray(current)
                    current[first:end] = styled
                    replaced += 1
                    continue
                view = memoryview(current)  # joined without copying the two halves first
                if parts and len(edits) == 1:
                    shown = snippet_around(current, first, end, styled, first_line)
                    return (view[:first], styled, view[end:]), f"ok 1 {shown}"
                current = b"".join((view[:first], styled, view[end:]))
            elif compiled is None and not eats_break:
                current = current.replace(old, styled)
            else:
                if compiled is None:
                    compiled = regex(pattern(old, False, has_cr))
                if eats_break:
                    compiled = regex(compiled.pattern + b"(?:\\r?\\n)?")
                if replace_all:
                    # Only backslashes are special in a re replacement: escaped, it is literal.
                    current = compiled.sub(styled.replace(b"\\", b"\\\\"), current)
                else:
                    match = compiled.search(current, first)
                    view = memoryview(current)
                    current = b"".join((view[: match.start()], styled, view[match.end() :]))
            if not replace_all:
                count = 1
        if current == before:
            return None, f"nochange {index}"
        replaced += count
    if current == data:
        return None, "identical"
    shown = "-"
    if len(edits) == 1 and not edits[0][2]:
        new_lines = edits[0][1].replace(b"\r\n", b"\n").count(b"\n") + 1
        shown = snippet(current, first, new_lines, first_line)
    return current, f"ok {replaced} {shown}"


def read_request(stream):
    """The edits from stdin: count, then old/new base64 and flags per edit."""
    fields = stream.read().split(b"\n")
    edits = []
    for i in range(int(fields[0])):
        old, new, flags = fields[1 + 3 * i : 4 + 3 * i]
        edits.append(
            (
                binascii.a2b_base64(old),
                binascii.a2b_base64(new),
                flags[:1] == b"1",
                flags[1:2] == b"1",
            )
        )
    return edits


def create_private(path):
    """A new file only its owner can read: the content is not world-readable
    while it is written; the final mode is applied when it is complete."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def write_all(fd, data):
    """Write ``data`` (bytes, or a tuple of parts) to ``fd``."""
    for part in data if isinstance(data, tuple) else (data,):
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


def size_of(data):
    """The length of ``data`` (bytes, or a tuple of parts)."""
    return sum(len(part) for part in data) if isinstance(data, tuple) else len(data)


def write_synced(fd, data):
    """Write all of ``data`` to ``fd``, fsync and close it (closed even on error)."""
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def failed(step, err, path):
    return f"failed {step} {path}: {os.strerror(err.errno or 0)}"


def xattrs(path):
    """The file's extended attributes (ACLs and SELinux labels are xattrs)."""
    try:
        return sorted((name, os.getxattr(path, name)) for name in os.listxattr(path))
    except (OSError, AttributeError):
        return None


def has_writer(path, info):
    """Does a process hold the file (``path``, as ``info`` from stat) open for
    writing, or mapped writable? Asked of the kernel where it can answer: a
    read lease is refused (EAGAIN) exactly while the file is open for
    writing by anyone, it is ours to take on our own file (the only case
    asked), and taking and dropping it costs microseconds where a look
    through /proc costs a stat per open file of the host. Where leases are
    not to be had (a filesystem without them, leases disabled), /proc says,
    where readable (the user's own processes; all of them for root)."""
    import fcntl
    import signal

    # A lease broken meanwhile (someone opens the file for writing) signals
    # SIGIO, which would end this process; the opener waits only until the
    # lease is dropped, a few microseconds later.
    signal.signal(signal.SIGIO, signal.SIG_IGN)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except BlockingIOError:  # somebody holds a write lease: a writer
        return True
    except OSError:
        return writer_in_proc(info)
    try:
        if os.fstat(fd).st_ino != info.st_ino:
            return writer_in_proc(info)
        try:
            fcntl.fcntl(fd, 1024, fcntl.F_RDLCK)  # F_SETLEASE (Linux)
        except BlockingIOError:  # EAGAIN: open for writing somewhere
            return True
        except OSError:
            return writer_in_proc(info)
        return False
    finally:
        os.close(fd)  # drops the lease too


def writer_in_proc(info):
    """has_writer's answer from /proc: an open file descriptor of the file
    (its inode) with write access, in any process whose fds are readable."""
    try:
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
    except OSError:
        return False
    for pid in pids:
        fd_dir = "/proc/" + pid + "/fd/"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                other = os.stat(fd_dir + fd)
                if (other.st_ino, other.st_dev) != (info.st_ino, info.st_dev):
                    continue
                with open("/proc/" + pid + "/fdinfo/" + fd) as fdinfo:
                    for line in fdinfo:
                        if line.startswith("flags:") and int(line.split()[1], 8) & 3:
                            return True
            except (OSError, ValueError, IndexError):
                continue
    return False


def commit(path, tmp, bak, seen, old, new):
    """Put ``new`` (already complete in ``tmp``) in place of ``path``; ``seen`` is
    the file's stat when it was read (None: it did not exist). Returns None on
    success, else the refusal line. Rename when nothing of the file's identity
    would be lost (one link, the user's, no writer, the temp copy given the same
    owner, group, mode and xattrs), else copy into the file over a private
    synced backup of the old content."""
    if seen is None:
        if os.path.lexists(path):
            return "stale"
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        try:
            os.rename(tmp, path)
        except OSError as err:  # e.g. a name too long: the temp name is short
            return failed("open", err, path)
        return None
    try:
        now = os.stat(path)
    except OSError:
        return "stale"
    if (now.st_size, now.st_mtime_ns, now.st_ino) != (
        seen.st_size,
        seen.st_mtime_ns,
        seen.st_ino,
    ):
        return "stale"
    if not os.access(path, os.W_OK):
        return "denied"
    try:  # owner and group first: chown clears setuid/setgid, so the mode goes last
        os.chown(tmp, now.st_uid, now.st_gid)
    except OSError:
        pass
    try:
        os.chmod(tmp, now.st_mode & 0o7777)
    except OSError:
        pass
    copy = os.stat(tmp)
    if (
        now.st_nlink == 1
        and now.st_uid == os.geteuid()
        and (copy.st_uid, copy.st_gid, copy.st_mode) == (now.st_uid, now.st_gid, now.st_mode)
        and xattrs(path) == xattrs(tmp)
        and not has_writer(path, now)
    ):
        try:
            os.rename(tmp, path)
        except OSError as err:
            return failed("open", err, path)
        return None
    try:
        if old is None:  # Write: the old content is needed only here, for the backup
            with open(path, "rb") as source:
                old = source.read()
        write_synced(create_private(bak), old)
    except OSError as err:
        try:
            os.unlink(bak)
        except OSError:
            pass
        return failed("tmp", err, bak)
    try:
        write_synced(os.open(path, os.O_WRONLY | os.O_TRUNC), new)
    except OSError as err:
        if not restore(path, old):
            return "corrupt"
        os.unlink(bak)
        return failed("write", err, path)
    os.unlink(bak)
    return None


def restore(path, old):
    """Put the old content back after a failed in-place copy; False if that failed too."""
    try:
        with open(path, "rb") as now:
            if now.read() == old:
                return True
        with open(path, "r+b") as target:
            target.truncate(0)
            target.write(old)
        return True
    except OSError:
        return False


def stat_line(info):
    """``SIZE MTIME`` of a stat result as ``stat -c '%s %y'`` prints them:
    the session's record of a file too big to hash."""
    return f"{info.st_size} {mtime_text(info)}"


def mtime_text(info):
    """The mtime as ``stat -c %y`` prints it."""
    local = time.localtime(info.st_mtime_ns // 1000000000)
    nanoseconds = info.st_mtime_ns % 1000000000
    when = time.strftime("%Y-%m-%d %H:%M:%S", local)
    return f"{when}.{nanoseconds:09d} {time.strftime('%z', local)}"


def write_main(argv, stdin, stdout):
    """Write (``write PATH TMP BAK KIND EXPECTED``, the content base64 on stdin):
    the precondition (KIND absent: the file must not exist; sha256: its hash
    is EXPECTED; stat: ``stat -c '%s %y'`` gives EXPECTED; any: none), a
    private temp file with the content, the commit. Prints ``created MTIME``
    or ``updated MTIME``, else one status word (write.sh.j2's replies)."""
    path, tmp, bak, kind, expected = argv
    if os.path.isdir(path):
        return refuse(stdout, "isdir")
    seen = None
    old = None
    if kind == "absent":
        if os.path.exists(path):
            return refuse(stdout, "notread")
    elif kind != "any":
        try:
            with open(path, "rb") as source:
                seen = os.fstat(source.fileno())
                if kind == "sha256":
                    old = source.read()
        except OSError:
            return refuse(stdout, "stale")
        if old is not None and sha256_hex(old) != expected:
            return refuse(stdout, "stale")
        if kind == "stat" and stat_line(seen) != expected:
            return refuse(stdout, "stale")
    elif os.path.exists(path):
        seen = os.stat(path)
    if seen is not None and not os.access(path, os.W_OK):
        return refuse(stdout, "denied")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError:
        return refuse(stdout, "mkdir")
    content = binascii.a2b_base64(stdin.read())
    try:  # a large Write cut while staging (write_large.py) leaves its copy under this name
        os.unlink(tmp)
    except OSError:
        pass
    try:
        write_synced(create_private(tmp), content)
    except OSError as err:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        return refuse(stdout, failed("tmp", err, tmp))
    refused = commit(path, tmp, bak, seen, old, content)
    if os.path.lexists(tmp):  # not renamed: refused, or copied in place
        os.unlink(tmp)
    if refused is not None:
        return refuse(stdout, refused)
    word = "created" if seen is None else "updated"
    stdout.write(f"{word} {mtime_text(os.stat(path))}\n".encode("ascii"))
    return 0


def refuse(stdout, line):
    stdout.write(line.encode("utf-8", "surrogateescape") + b"\n")
    return REFUSED_EXIT


def main(argv, stdin, stdout):
    """Precondition, apply, write, commit; returns the exit status."""
    path, tmp, bak, kind, expected, missing, max_size, hash_max = argv
    edits = read_request(stdin)
    seen = None
    data = b""
    old_digest = None
    if missing != "1":
        with open(path, "rb") as source:
            seen = os.fstat(source.fileno())
            if seen.st_size > int(max_size):
                stdout.write(f"toolarge {seen.st_size} {max_size}\n".encode("ascii"))
                return REFUSED_EXIT
            if kind == "stat" and stat_line(seen) != expected:
                return refuse(stdout, "stale")
            data = source.read()
        if kind == "sha256":
            old_digest = sha256_later(data)
    # Each content is hashed at most once, while the edit and the write go
    # on; one bigger than HASH_MAX is not hashed at all (the session then
    # keeps its size and mtime). The precondition is settled before anything
    # is printed or committed.
    result, reply = apply_edits(data, edits, parts=True)
    refused = None
    if result is not None:
        digest = sha256_later(result) if size_of(result) <= int(hash_max) else lambda: "-"
        try:
            write_synced(create_private(tmp), result)
        except OSError as err:
            refused = failed("tmp", err, tmp)
    if old_digest is not None and old_digest() != expected:
        result, reply, refused = None, "stale", None
    stdout.write(reply.encode("ascii") + b"\n")
    if result is not None and refused is None:
        refused = commit(path, tmp, bak, seen, data, result)
    if os.path.lexists(tmp):  # not renamed: refused, or copied in place
        os.unlink(tmp)
    if result is None:
        return REFUSED_EXIT
    if refused is not None:
        stdout.write(refused.encode("utf-8", "surrogateescape") + b"\n")
        return REFUSED_EXIT
    stdout.write(f"done {digest()} {stat_line(os.stat(path))}\n".encode("ascii"))
    return 0


def engine_main(argv, stdin, stdout):
    """The resident engine's program (``serve``) and the same program run once
    for one request (``edit ...`` or ``write ...``, as main and write_main)."""
    if argv[0] == "serve":
        return serve(argv[1:])
    if argv[0] == "write":
        return write_main(argv[1:], stdin, stdout)
    return main(argv[1:], stdin, stdout)


def serve(argv):
    """``serve DIR SHELL IDLE_S``: the resident engine of one worker shell
    (_engine_call.sh.j2 starts it and sends it requests). Each request line
    ``TOKEN PID`` on DIR/in names the request the calling command (PID, the
    leader of its process group) wrote to DIR/req; a child of the engine
    joins that process group, so stopping the call stops the child too
    (worker_kill.sh.j2), runs it and answers ``TOKEN STATUS`` on DIR/out.
    Python's start-up and imports are paid once per shell, not per call, and
    the fork too is paid ahead: a spare child waits for the next request line
    (a fork of python costs over a millisecond), and the next spare is forked
    while the current one works. Ends when the shell is gone or after IDLE_S
    without a request; the spare ends with it."""
    import select
    import signal

    folder, shell, idle_s = argv[0], int(argv[1]), float(argv[2])
    import hashlib  # noqa: F401  (imported once here, not in every child)

    regex("")
    sha256_hex(b"")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    # Opened read-write: never blocks, never sees EOF; the watchdog ends it.
    requests = os.open(folder + "/in", os.O_RDWR)
    replies = os.open(folder + "/out", os.O_RDWR)
    spare = fork_spare(folder, requests, replies)
    pending = b""
    quiet = 0.0
    while quiet < idle_s:
        if not select.select([requests], [], [], 1.0)[0]:
            quiet += 1.0
            if not process_alive(shell):
                for name in ("pid", "req", "rep", "err", "log", "child", "in", "out"):
                    try:
                        os.unlink(folder + "/" + name)
                    except OSError:
                        pass
                try:
                    os.rmdir(folder)
                except OSError:
                    pass
                return 0
            continue
        quiet = 0.0
        pending += os.read(requests, 4096)
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            os.write(spare, line + b"\n")  # a short line: one atomic write
            os.close(spare)
            spare = fork_spare(folder, requests, replies)
    try:  # idle: a caller that finds no pid file starts a new engine
        os.unlink(folder + "/pid")
    except OSError:
        pass
    return 0


def fork_spare(folder, requests, replies):
    """Fork a child that waits for one request line on a pipe and serves it
    (serve_one); returns the pipe's write end. When the engine ends, the
    pipe closes and an idle spare ends too."""
    line_in, line_out = os.pipe()
    if os.fork() == 0:
        try:
            os.close(line_out)
            os.close(requests)
            line = read_line(line_in)
            if line is not None:
                serve_one(folder, line, replies)
        finally:
            os._exit(0)
    os.close(line_in)
    return line_out


def read_line(fd):
    """One line from ``fd`` without its newline; None at end of file."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        line += chunk
    return line[:-1]


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def serve_one(folder, line, replies):
    """One request, in a child of the engine (fork_spare)."""
    token, _, caller = line.decode("ascii", "replace").partition(" ")
    try:
        caller = int(caller)
    except ValueError:
        return  # a garbled line
    try:
        os.setpgid(0, caller)  # only a live group of this session accepts us
    except OSError:  # its caller is gone, or does not lead a process group
        os.write(replies, f"{token} nogroup\n".encode("ascii"))
        return
    try:
        with open(f"/proc/{caller}/stat", "rb") as info:
            if info.read().rpartition(b")")[2].split()[0] == b"Z":
                return  # stopped while this child was being forked
    except OSError:
        if not process_alive(caller):
            return
    try:
        with open(folder + "/req", "rb") as source:
            request = source.read()
        parts = request.split(b"\0")
        if parts[0].decode("ascii", "replace") != token:  # cut short (a full disk?)
            os.write(replies, f"{token} untaken\n".encode("ascii"))
            return
        with open(folder + "/child", "w") as mine:  # before req goes: see _engine_call.sh.j2
            mine.write(f"{os.getpid()}\n")
        os.unlink(folder + "/req")
    except OSError:
        return
    args = [os.fsdecode(part) for part in parts[1:-1]]
    import io

    status = 1
    with open(folder + "/rep", "wb") as reply:
        try:
            status = engine_main(args, io.BytesIO(parts[-1]), reply)
        except BaseException:
            import traceback

            with open(folder + "/err", "w") as err:
                traceback.print_exc(file=err)
    os.write(replies, f"{token} {status}\n".encode("ascii"))


if __name__ == "__main__":
    status = main(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout.flush()
    sys.exit(status)
