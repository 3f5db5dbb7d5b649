#!/usr/bin/perl
# The Edit engine for hosts with perl but no python3: one perl process does
# the whole edit, as engines/edit.py's main does -- the precondition, the
# edits, the private temp file, the commit (the rule of
# docs/explanation/file-identity.md) and the new hash. The matching functions
# are a line-for-line port of edit.py's (same regex text, same reply words;
# tests/test_edit_engines.py runs every case through both and requires
# identical results), and so are commit, restore and has_writer.
#
# Run by edit.sh.j2 as `perl -e PROGRAM -- FILE TMP BAK KIND EXPECTED MISSING
# MAX_SIZE HASH_MAX` with the edits on stdin, the arguments of edit.py's main;
# KIND sha256 may carry the record's `SIZE MTIME` after the hash, compared
# when there is nothing to hash with. Prints the reply line, then `done SHA256
# SIZE MTIME` or a commit refusal line. Exit 0 = committed, 10 = refused.
#
# Only perl-base is assumed (Debian's minimal images have nothing more): no
# MIME::Base64, Encode, POSIX (10 ms to load), Time::HiRes or Digest::SHA
# (used when it is there, else sha256sum). base64 is decoded with unpack "u",
# UTF-8 checked with a regex, and the nanosecond mtime (`stat -c %y`) and the
# extended attributes come from the system calls statx and listxattr on
# x86_64 and aarch64 Linux; elsewhere from the commands stat and getfattr.
use strict;
use warnings;
use Fcntl qw(O_RDONLY O_WRONLY O_CREAT O_EXCL O_TRUNC O_NONBLOCK F_RDLCK);

my $CONTEXT_LINES = 4;
my $SNIPPET_LINE_BYTES = 8000;
my $LINES_SHOWN = 20;
my $BLANK = qr/\A[ \t\n\r\x0b\x0c]*\z/;
my $REFUSED_EXIT = 10;
my @QUOTE_GROUPS = (["'", "\xe2\x80\x98", "\xe2\x80\x99"], ["\"", "\xe2\x80\x9c", "\xe2\x80\x9d"]);

sub b64_decode {
    my ($text) = @_;
    $text =~ tr{A-Za-z0-9+/}{}cd;
    $text =~ tr{A-Za-z0-9+/}{ -_};
    my $out = "";
    while ($text =~ /(.{1,60})/gs) {
        $out .= unpack("u", chr(32 + int(length($1) * 3 / 4)) . $1);
    }
    return $out;
}

sub utf8_error {
    my ($data) = @_;
    return -1 if $data !~ /[\x80-\xff]/;
    pos($data) = 0;
    1 while $data =~ /\G(?:[\x00-\x7f]+|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}){1,10000}/gc;
    my $valid = pos($data) || 0;
    return $valid == length($data) ? -1 : $valid;
}

sub literal {
    my ($chunk, $has_cr) = @_;
    my $out = "";
    for my $byte (unpack("C*", $chunk)) {
        if ($byte == 10 && $has_cr) { $out .= "\\r?\\n"; }
        elsif ($byte == 13 && $has_cr) { $out .= "\\r(?!\\n)"; }
        elsif (($byte >= 48 && $byte <= 57) || ($byte >= 65 && $byte <= 90) || ($byte >= 97 && $byte <= 122)) { $out .= chr($byte); }
        else { $out .= sprintf("\\x%02x", $byte); }
    }
    return $out;
}

sub pattern {
    my ($old, $fold_quotes, $has_cr) = @_;
    my $out = "";
    my $i = 0;
    while ($i < length($old)) {
        my $group;
        my $width = 1;
        if ($fold_quotes) {
            for my $quotes (@QUOTE_GROUPS) {
                for my $quote (@$quotes) {
                    if (!defined($group) && substr($old, $i, length($quote)) eq $quote) {
                        $group = $quotes;
                        $width = length($quote);
                    }
                }
            }
        }
        if (defined($group)) { $out .= "(?:" . join("|", map { literal($_, $has_cr) } @$group) . ")"; }
        else { $out .= literal(substr($old, $i, 1), $has_cr); }
        $i += $width;
    }
    return $out;
}

sub find_matches {
    my ($data, $pattern) = @_;
    my ($count, $first, $line, $last) = (0, -1, 1, 0);
    my @lines;
    while ($data =~ /$pattern/g) {
        my $start = $-[0];
        $count++;
        $first = $start if $first < 0;
        if (@lines < $LINES_SHOWN) {
            $line += (substr($data, $last, $start - $last) =~ tr/\n//);
            $last = $start;
            push @lines, $line;
        }
    }
    return ($count, $first, @lines);
}

sub newline_before {
    my ($end) = $_[1];
    return -1 if $end <= 0;
    return rindex($_[0], "\n", $end - 1);
}

sub snippet {
    my ($content, $start, $new_lines, $line) = @_;
    $line = (substr($content, 0, $start) =~ tr/\n//) unless defined $line;
    my $first = $line > $CONTEXT_LINES ? $line - $CONTEXT_LINES : 0;
    my $wanted = $line + $CONTEXT_LINES + $new_lines - $first;
    my $cut = newline_before($content, $start);
    for (1 .. $line - $first) { $cut = newline_before($content, $cut); }
    my $pos = $cut + 1;
    my @lines;
    while (@lines < $wanted) {
        my $end = index($content, "\n", $pos);
        if ($end < 0) {
            push @lines, substr(substr($content, $pos), 0, $SNIPPET_LINE_BYTES);
            last;
        }
        my $piece = substr($content, $pos, $end - $pos);
        $piece =~ s/\r\z//;
        push @lines, substr($piece, 0, $SNIPPET_LINE_BYTES);
        $pos = $end + 1;
    }
    return sprintf("%d %s", $first + 1, unpack("H*", join("\n", @lines)));
}

sub apply_edits {
    my ($data, $edits) = @_;
    my $bad = utf8_error($data);
    return (undef, "notutf8 $bad") if $bad >= 0;
    my $use_crlf = 0;
    if (index($data, "\r") >= 0) {  # counting lines costs a scan of the whole file
        my $lf = ($data =~ tr/\n//);
        my $crlf = 0;
        $crlf++ while $data =~ /\r\n/g;
        $use_crlf = $crlf * 2 > $lf;
    }
    my $current = $data;
    my ($replaced, $first, $first_line) = (0, 0, 0);
    for my $index (0 .. $#$edits) {
        my ($old, $new, $replace_all, $clash) = @{ $edits->[$index] };
        return (undef, "clash $index") if $clash;
        $old =~ s/\r\n/\n/g;
        my $styled = $new;
        if ($use_crlf) {
            $styled =~ s/\r\n/\n/g;
            $styled =~ s/\n/\r\n/g;
        }
        my $before = $current;
        my $count;
        if ($old eq "") {
            return (undef, "exists $index") if $current !~ $BLANK;
            $current = $styled;
            $first = 0;
            $first_line = 0;
            $count = 1;
        }
        else {
            # Without CR in the content a line break is a plain byte: a fixed
            # string, which perl finds without trying the regex at every offset.
            my $has_cr = index($current, "\r") >= 0;
            my $pattern = pattern($old, 0, $has_cr);
            my @lines;
            ($count, $first, @lines) = find_matches($current, $pattern);
            # Found as the bytes of old_string (no CR, no quote folding): its
            # place is known, so the replacement needs no second search.
            my $literal = !$has_cr && $count > 0;
            if ($count == 0) {
                my $folded = pattern($old, 1, $has_cr);
                return (undef, "notfound $index") if $current !~ /$folded/;
                my $actual = substr($current, $-[0], $+[0] - $-[0]);
                $actual =~ s/\r\n/\n/g;
                $pattern = pattern($actual, 0, $has_cr);
                ($count, $first, @lines) = find_matches($current, $pattern);
            }
            return (undef, "multiple $index $count " . join(",", @lines)) if $count > 1 && !$replace_all;
            $first_line = $lines[0] - 1;
            # Deleting text also deletes the line break right after it.
            $pattern .= "(?:\\r?\\n)?" if $new eq "" && $old !~ /\n\z/;
            if ($replace_all) {
                $current =~ s/$pattern/$styled/g;
            }
            elsif ($literal) {
                my $end = $first + length($old);
                $end++ if $new eq "" && $old !~ /\n\z/ && substr($current, $end, 1) eq "\n";
                return spliced($current, $first, $end, $styled, $new, $first_line) if @$edits == 1;
                substr($current, $first, $end - $first, $styled);
                $count = 1;
            }
            else {
                $current =~ /$pattern/ or die "match vanished\n";
                substr($current, $-[0], $+[0] - $-[0], $styled);
                $count = 1;
            }
        }
        return (undef, "nochange $index") if $current eq $before;
        $replaced += $count;
    }
    return (undef, "identical") if $current eq $data;
    my $snippet = "-";
    if (@$edits == 1 && !$edits->[0][2]) {
        (my $new_text = $edits->[0][1]) =~ s/\r\n/\n/g;
        $snippet = snippet($current, $first, ($new_text =~ tr/\n//) + 1, $first_line);
    }
    return ($current, "ok $replaced $snippet");
}

# The one edit of a literal match, without a copy of the file: DATA with
# FROM..TO replaced by STYLED, as [\DATA, FROM, TO, STYLED] (a splice that
# content_pieces writes piece by piece); the same reply apply_edits gives,
# its snippet taken from the lines around the change alone.
sub spliced {
    my ($data, $from, $to, $styled, $new, $line) = @_;
    return (undef, "nochange 0") if substr($data, $from, $to - $from) eq $styled;
    my $start = $from;  # past the newline CONTEXT_LINES + 1 lines back, or 0
    for (0 .. $CONTEXT_LINES) { $start = $start > 0 ? rindex($data, "\n", $start - 1) : -1; last if $start < 0; }
    $start = $start < 0 ? 0 : $start + 1;
    my $stop = $to;  # past the sixth newline after the change, or the end
    for (1 .. $CONTEXT_LINES + 2) { $stop = index($data, "\n", $stop); last if $stop < 0; $stop++; }
    $stop = length($data) if $stop < 0;
    my $window = substr($data, $start, $from - $start) . $styled . substr($data, $to, $stop - $to);
    (my $new_text = $new) =~ s/\r\n/\n/g;
    my $snippet = snippet($window, $from - $start, ($new_text =~ tr/\n//) + 1, $line);
    return ([\$data, $from, $to, $styled], "ok 1 $snippet");
}

# A content as pieces to write: [\STRING, OFFSET, LENGTH] each.
sub content_pieces {
    my ($content) = @_;
    return ([\$content, 0, length($content)]) unless ref($content);
    my ($data, $from, $to, $styled) = @$content;
    return ([$data, 0, $from], [\$styled, 0, length($styled)], [$data, $to, length($$data) - $to]);
}

sub content_length {
    my ($content) = @_;
    return length($content) unless ref($content);
    my ($data, $from, $to, $styled) = @$content;
    return length($$data) - ($to - $from) + length($styled);
}

# ---------------------------------------------------------------------------
# The commit: edit.py's commit, restore and has_writer, with what perl-base
# offers.
# ---------------------------------------------------------------------------

# Linux system call numbers by the ELF machine of this perl (x86_64, aarch64).
my %SYSCALLS = (
    62 => { statx => 332, listxattr => 194, getxattr => 191, fsync => 74 },
    183 => { statx => 291, listxattr => 11, getxattr => 8, fsync => 82 },
);
my $SYSCALL = syscall_numbers();
my $DIGEST;  # Digest::SHA loaded (1) or not to be had (0); undef: not tried

# This perl's own system call numbers, from its ELF header: a 64-bit
# little-endian x86_64 or aarch64 program; undef for any other.
sub syscall_numbers {
    open(my $exe, "<", "/proc/self/exe") or return undef;
    binmode($exe);
    my $got = sysread($exe, my $head, 20);
    return undef unless defined $got && $got == 20 && substr($head, 0, 6) eq "\x7fELF\x02\x01";
    return $SYSCALLS{ unpack("v", substr($head, 18, 2)) };
}

# The output of a command (stderr dropped), or undef if it failed.
sub command_output {
    my @command = @_;
    my $pid = open(my $out, "-|");
    return undef unless defined $pid;
    if (!$pid) {
        open(STDERR, ">", "/dev/null");
        exec { $command[0] } @command;
        exit(127);
    }
    binmode($out);
    my $text = do { local $/; <$out> };
    return close($out) ? $text : undef;
}

# `stat -c %y` of SEC and NSEC in this process's time zone.
sub mtime_text {
    my ($sec, $nsec) = @_;
    my @local = localtime($sec);
    my @utc = gmtime($sec);
    my $minutes = ($local[2] - $utc[2]) * 60 + $local[1] - $utc[1];
    $minutes += 1440 * (($local[5] <=> $utc[5]) || ($local[7] <=> $utc[7]));
    return sprintf(
        "%04d-%02d-%02d %02d:%02d:%02d.%09d %s%02d%02d",
        $local[5] + 1900, $local[4] + 1, @local[3, 2, 1, 0], $nsec,
        $minutes < 0 ? "-" : "+", int(abs($minutes) / 60), abs($minutes) % 60
    );
}

# What the commit compares of a file (of the open handle FH if given):
# size, mtime as `stat -c %y` prints it, inode, owner, group, mode and links.
sub file_state {
    my ($path, $fh) = @_;
    # statx refused (a kernel before 4.11, a seccomp filter): the command.
    return ($SYSCALL && state_by_statx($path, $fh)) || state_by_command($path, $fh);
}

sub state_by_statx {
    my ($path, $fh) = @_;
    my $buf = "\0" x 256;
    # AT_EMPTY_PATH on the handle's descriptor, else AT_FDCWD and the path
    my @at = defined $fh ? (fileno($fh), "", 0x1000) : (-100, $path, 0);
    syscall($SYSCALL->{statx}, @at, 0x7ff, $buf) == 0 or return undef;
    my ($nlink, $uid, $gid, $mode, $ino, $size) = unpack("x16 L L L S x2 Q Q", $buf);
    my ($sec, $nsec) = unpack("x112 q L", $buf);
    return {
        size => $size, mtime => mtime_text($sec, $nsec), ino => $ino,
        uid => $uid, gid => $gid, mode => $mode, nlink => $nlink,
    };
}

sub state_by_command {
    my ($path, $fh) = @_;
    my $line = command_output("stat", "-L", "-c", "%s|%y|%i|%u|%g|%f|%h", "--", $path);
    return undef unless defined $line && $line =~ /\A(\d+)\|([^|]+)\|(\d+)\|(\d+)\|(\d+)\|([0-9a-f]+)\|(\d+)\n\z/;
    # The file opened is the file stat'ed: the same inode.
    return undef if defined $fh && (stat $fh)[1] != $3;
    return { size => $1, mtime => $2, ino => $3, uid => $4, gid => $5, mode => hex($6), nlink => $7 };
}

# `SIZE MTIME`: the session's record of a file too big to hash.
sub stat_line { return "$_[0]{size} $_[0]{mtime}"; }

# The sha256 (hex) of CONTENT (a string or a splice), which FILE holds:
# Digest::SHA where perl has it, else sha256sum on FILE; "" when there is
# nothing to hash with.
sub sha256_of {
    my ($content, $file) = @_;
    $DIGEST = eval { require Digest::SHA; 1 } ? 1 : 0 unless defined $DIGEST;
    if ($DIGEST) {
        my $sha = Digest::SHA->new(256);
        $sha->add(substr(${ $_->[0] }, $_->[1], $_->[2])) for content_pieces($content);
        return $sha->hexdigest;
    }
    my $out = command_output("sha256sum", "--", $file);
    return defined $out && $out =~ /\A([0-9a-f]{64})\s/ ? $1 : "";
}

# The extended attributes (ACLs and SELinux labels are xattrs) as text.
sub xattrs {
    my ($path) = @_;
    return xattrs_by_command($path) unless $SYSCALL;
    my $size = syscall($SYSCALL->{listxattr}, $path, 0, 0);
    return "-" if $size < 0;
    my $names = "\0" x ($size + 1);
    $size = syscall($SYSCALL->{listxattr}, $path, $names, $size + 1);
    return "-" if $size < 0;
    my $text = "";
    for my $name (sort split(/\0/, substr($names, 0, $size))) {
        my $length = syscall($SYSCALL->{getxattr}, $path, $name, 0, 0);
        my $value = "\0" x ($length + 1);
        $length = syscall($SYSCALL->{getxattr}, $path, $name, $value, $length + 1) if $length >= 0;
        $text .= "$name=" . ($length < 0 ? "-" : unpack("H*", substr($value, 0, $length))) . "\n";
    }
    return $text;
}

# getfattr where installed, else the mark ls prints after the mode
# ('+' an ACL, '.' an SELinux label).
sub xattrs_by_command {
    my ($path) = @_;
    my $getfattr = grep { -x "$_/getfattr" } split(/:/, $ENV{PATH} // "");
    if ($getfattr) {
        my $out = command_output("getfattr", "--absolute-names", "-d", "-m", "-", "-e", "hex", "--", $path);
        return defined $out ? $out =~ s/\A[^\n]*\n//r : "-";
    }
    my $out = command_output("ls", "-ld", "--", $path);
    return defined $out ? substr($out, 10, 1) : "-";
}

sub sync_file {
    my ($fh) = @_;
    return syscall($SYSCALL->{fsync}, fileno($fh)) == 0 if $SYSCALL;
    require IO::Handle;
    return $fh->sync;
}

# Write all of CONTENT (a string or a splice) to FH, fsync and close it
# (closed even on error); false with $! set on failure.
sub write_synced {
    my ($fh, $content) = @_;
    my $ok = 1;
    for my $piece (content_pieces($content)) {
        my ($data, $done, $end) = ($piece->[0], $piece->[1], $piece->[1] + $piece->[2]);
        while ($ok && $done < $end) {
            my $wrote = syswrite($fh, $$data, $end - $done, $done);
            if (defined $wrote) { $done += $wrote; } else { $ok = 0; }
        }
    }
    $ok &&= sync_file($fh);
    my $errno = $! + 0;
    close($fh);
    $! = $errno;
    return $ok;
}

# A new file only its owner can read: the content is not world-readable
# while it is written; the final mode is applied when it is complete.
sub write_private {
    my ($path, $data) = @_;
    sysopen(my $fh, $path, O_WRONLY | O_CREAT | O_EXCL, 0600) or return 0;
    return write_synced($fh, $data);
}

sub failed { return "failed $_[0] $_[1]: $!"; }

sub errno_is_eagain {
    my $errno = $! + 0;
    require Errno;
    return $errno == Errno::EAGAIN();
}

# Does a process hold PATH (SEEN: its state) open for writing, or mapped
# writable? A read lease (F_SETLEASE, 1024 on Linux) is refused exactly then;
# /proc says where leases are not to be had.
sub has_writer {
    my ($path, $seen) = @_;
    local $SIG{IO} = "IGNORE";  # a lease broken meanwhile must not end us
    my $fh;
    if (!sysopen($fh, $path, O_RDONLY | O_NONBLOCK)) {
        return 1 if errno_is_eagain();  # somebody holds a write lease
        return writer_in_proc($path);
    }
    return writer_in_proc($path) if (stat $fh)[1] != $seen->{ino};
    my $leased = fcntl($fh, 1024, F_RDLCK);
    my $busy = !$leased && errno_is_eagain();
    close($fh);  # drops the lease too
    return $leased ? 0 : $busy ? 1 : writer_in_proc($path);
}

# has_writer's answer from /proc: a descriptor of the file with write
# access, in any process whose descriptors are readable.
sub writer_in_proc {
    my ($path) = @_;
    my ($dev, $ino) = stat($path) or return 0;
    opendir(my $proc, "/proc") or return 0;
    for my $pid (grep { /\A\d+\z/ } readdir($proc)) {
        opendir(my $fds, "/proc/$pid/fd") or next;
        for my $fd (grep { /\A\d+\z/ } readdir($fds)) {
            my ($fd_dev, $fd_ino) = stat("/proc/$pid/fd/$fd") or next;
            next unless $fd_dev == $dev && $fd_ino == $ino;
            open(my $info, "<", "/proc/$pid/fdinfo/$fd") or next;
            while (my $line = <$info>) {
                return 1 if $line =~ /\Aflags:\s*([0-7]+)/ && oct($1) & 3;
            }
        }
    }
    return 0;
}

# Put NEW (already complete in TMP) in place of PATH; SEEN is the file's
# state when it was read (undef: it did not exist). Returns undef on success,
# else the refusal line. Rename when nothing of the file's identity would be
# lost, else copy into the file over a private synced backup of OLD.
sub commit {
    my ($path, $tmp, $bak, $seen, $old, $new) = @_;
    if (!defined $seen) {
        return "stale" if -e $path || -l $path;
        chmod(0666 & ~umask(), $tmp);
        rename($tmp, $path) or return failed("open", $path);
        return undef;
    }
    my $now = file_state($path) or return "stale";
    return "stale" if "$now->{ino} " . stat_line($now) ne "$seen->{ino} " . stat_line($seen);
    return "denied" unless -w $path;
    # owner and group first: chown clears setuid/setgid, so the mode goes last
    chown($now->{uid}, $now->{gid}, $tmp);
    chmod($now->{mode} & 07777, $tmp);
    my ($mode, $uid, $gid) = (stat $tmp)[2, 4, 5];
    if ($now->{nlink} == 1 && $now->{uid} == $>
        && "$uid $gid $mode" eq "$now->{uid} $now->{gid} $now->{mode}"
        && xattrs($path) eq xattrs($tmp) && !has_writer($path, $now)) {
        rename($tmp, $path) or return failed("open", $path);
        return undef;
    }
    if (!write_private($bak, $old)) {
        my $refusal = failed("tmp", $bak);
        unlink($bak);
        return $refusal;
    }
    my $target;
    if (!(sysopen($target, $path, O_WRONLY | O_TRUNC) && write_synced($target, $new))) {
        my $refusal = failed("write", $path);
        return "corrupt" unless restore($path, $old);
        unlink($bak);
        return $refusal;
    }
    unlink($bak);
    return undef;
}

# Put the old content back after a failed in-place copy; false if that failed too.
sub restore {
    my ($path, $old) = @_;
    if (open(my $now, "<", $path)) {
        binmode($now);
        my $content = do { local $/; <$now> };
        return 1 if defined $content && $content eq $old;
    }
    open(my $target, "+<", $path) or return 0;
    binmode($target);
    truncate($target, 0) or return 0;
    print {$target} $old or return 0;
    return close($target);
}

sub refuse {
    print "$_[0]\n";
    return $REFUSED_EXIT;
}

# The edits from stdin: count, then old/new base64 and flags per edit.
sub read_request {
    my @fields = split(/\n/, do { local $/; <STDIN> }, -1);
    my @edits;
    for my $i (0 .. $fields[0] - 1) {
        my ($old, $new, $flags) = @fields[1 + 3 * $i .. 3 + 3 * $i];
        push @edits, [b64_decode($old), b64_decode($new), substr($flags, 0, 1) eq "1", substr($flags, 1, 1) eq "1"];
    }
    return @edits;
}

# Precondition, apply, write, commit; returns the exit status.
sub main {
    my ($path, $tmp, $bak, $kind, $expected, $missing, $max_size, $hash_max) = @_;
    $| = 1;  # nothing buffered when a command is forked
    binmode(STDIN);
    binmode(STDOUT);
    my @edits = read_request();
    my ($seen, $data) = (undef, "");
    if ($missing ne "1") {
        open(my $source, "<", $path) or die "cannot read the file: $!\n";
        binmode($source);
        $seen = file_state($path, $source) or return refuse("stale");
        return refuse("toolarge $seen->{size} $max_size") if $seen->{size} > $max_size;
        return refuse("stale") if $kind eq "stat" && stat_line($seen) ne $expected;
        # One read of the known size: a slurp through <> costs several times more.
        my $got = sysread($source, $data, $seen->{size} + 1);
        $got = sysread($source, $data, 1 << 20, length($data)) while $got;
        defined $got or die "cannot read the file: $!\n";
        close($source);
        if ($kind eq "sha256") {
            my ($hash, $record) = split(/ /, $expected, 2);
            my $sum = sha256_of($data, $path);
            my $same = $sum ne "" ? $sum eq $hash : defined $record && stat_line($seen) eq $record;
            return refuse("stale") unless $same;
        }
    }
    my ($result, $reply) = apply_edits($data, \@edits);
    return refuse($reply) unless defined $result;
    my $refused;
    my $digest = "-";
    if (write_private($tmp, $result)) {
        $digest = sha256_of($result, $tmp) || "-" if content_length($result) <= $hash_max;
    }
    else {
        $refused = failed("tmp", $tmp);
    }
    print "$reply\n";
    $refused //= commit($path, $tmp, $bak, $seen, $data, $result);
    unlink($tmp) if -e $tmp || -l $tmp;  # not renamed: refused, or copied in place
    return refuse($refused) if defined $refused;
    my $now = file_state($path) or die "cannot stat the file: $!\n";
    print "done $digest " . stat_line($now) . "\n";
    return 0;
}

exit(main(@ARGV));
