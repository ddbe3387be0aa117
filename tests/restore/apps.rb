#!/usr/bin/ruby
# apps.rb W - the Ruby server of apps.sh: TCPServer with a thread per
# connection (Ruby's threads, its timer thread), speaking servers.py's
# protocol (GET /hit counts one hit and answers "hits N conns C", GET
# /count the same without counting, keep-alive).  It listens on a free
# port of 127.0.0.1 and writes it to W/port.
require 'socket'

w = ARGV[0]
srv = TCPServer.new('127.0.0.1', 0)
File.write("#{w}/port.tmp", "#{srv.addr[1]}\n")
File.rename("#{w}/port.tmp", "#{w}/port")
lock = Mutex.new
hits = 0
conns = 0
loop do
	c = srv.accept
	lock.synchronize { conns += 1 }
	Thread.new(c) do |s|
		while (line = s.gets)
			path = line.split[1]
			while (h = s.gets) && h != "\r\n"
			end
			body = lock.synchronize do
				hits += 1 if path == '/hit'
				"hits #{hits} conns #{conns}\n"
			end
			s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" \
				"Content-Length: #{body.bytesize}\r\n\r\n#{body}")
		end
		s.close
	end
end
