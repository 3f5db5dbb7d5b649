#!/usr/bin/perl
# The Edit engine for hosts with perl but no python3: a line-for-line port of
# the matching functions of engines/edit.py (same regex text, same reply
# words; tests/test_edit_engines.py runs every case through both and requires
# identical results). Run by edit.sh.j2 as `perl -e PROGRAM -- FILE TMP` with
# the edits on stdin; writes the new content into TMP (created 0600 by the
# shell) and prints one reply line. Only perl-base is assumed (no MIME::Base64,
# Digest::SHA or Encode): base64 is decoded with unpack "u", UTF-8 is checked
# with a regex. Exit 0 = TMP written, 10 = refused.
use strict;
use warnings;

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

binmode(STDIN);
binmode(STDOUT);
my @fields = split(/\n/, do { local $/; <STDIN> }, -1);
my @edits;
for my $i (0 .. $fields[0] - 1) {
    my ($old, $new, $flags) = @fields[1 + 3 * $i .. 3 + 3 * $i];
    push @edits, [b64_decode($old), b64_decode($new), substr($flags, 0, 1) eq "1", substr($flags, 1, 1) eq "1"];
}
open(my $source, "<", $ARGV[0]) or die "cannot read the file: $!\n";
binmode($source);
# One read of the known size: a slurp through <> costs several times more.
my $data = "";
my $got = sysread($source, $data, (-s $source) + 1);
$got = sysread($source, $data, 1 << 20, length($data)) while $got;
defined $got or die "cannot read the file: $!\n";
close($source);
my ($result, $reply) = apply_edits($data, \@edits);
if (defined $result) {
    open(my $target, ">", $ARGV[1]) or die "cannot write the temp file: $!\n";
    binmode($target);
    print {$target} $result or die "cannot write the temp file: $!\n";
    close($target) or die "cannot write the temp file: $!\n";
}
print "$reply\n";
exit(defined $result ? 0 : $REFUSED_EXIT);
