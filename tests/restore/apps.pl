#!/usr/bin/perl
# apps.pl W - the Perl server of apps.sh: IO::Select over a listening
# socket and its clients in one process, speaking servers.py's protocol
# (GET /hit counts one hit and answers "hits N conns C", GET /count the
# same without counting, keep-alive).  It listens on a free port of
# 127.0.0.1 and writes it to W/port.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my $w = $ARGV[0];
my $ln = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
			       Listen => 16, ReuseAddr => 1) or die "listen: $!";
open(my $f, '>', "$w/port.tmp") or die "$w/port.tmp: $!";
print $f $ln->sockport(), "\n";
close($f);
rename("$w/port.tmp", "$w/port") or die "rename: $!";
my ($hits, $conns) = (0, 0);
my %buf;
my $sel = IO::Select->new($ln);
while (1) {
	for my $s ($sel->can_read()) {
		if ($s == $ln) {
			my $c = $ln->accept() or next;
			$conns++;
			$buf{$c} = '';
			$sel->add($c);
			next;
		}
		my $n = sysread($s, my $data, 4096);
		if (!$n) {
			$sel->remove($s);
			delete $buf{$s};
			close($s);
			next;
		}
		$buf{$s} .= $data;
		while ($buf{$s} =~ s/^(.*?)\r\n\r\n//s) {
			my ($path) = $1 =~ m{^\S+\s+(\S+)};
			$hits++ if $path eq '/hit';
			my $body = "hits $hits conns $conns\n";
			syswrite($s, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" .
				 "Content-Length: " . length($body) . "\r\n\r\n$body");
		}
	}
}
