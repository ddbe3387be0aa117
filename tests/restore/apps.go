// apps.go - the Go program of apps.sh: an HTTP server (net/http, a
// goroutine per connection, keep-alive) speaking servers.py's protocol:
// GET /hit counts one hit and answers "hits N conns C", C being the
// connections accepted; GET /count answers the same without counting.
// Around it what a Go service runs: goroutines spinning (the runtime
// preempts them with SIGURG), a ticker, goroutines locked to OS threads
// (many threads), the netpoller's epoll.  GET /ticks answers "ticks T"
// and whether every spinning goroutine made progress since the last ask.
// It listens on a free port of 127.0.0.1 and writes it to W/port.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var hits, conns, ticks int64

const spinners = 4

var spins [spinners]int64

func spin(i int) {
	for {
		// No function call in the loop: only asynchronous preemption
		// (SIGURG) lets the scheduler run anything else on this thread.
		for j := 0; j < 1000000; j++ {
			spins[i]++
		}
	}
}

func main() {
	runtime.GOMAXPROCS(8)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; i < spinners; i++ {
		go spin(i)
	}
	// Goroutines that own an OS thread each, parked on a channel.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			runtime.LockOSThread()
			wg.Done()
			select {}
		}()
	}
	wg.Wait()
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			atomic.AddInt64(&ticks, 1)
		}
	}()
	var last [spinners]int64
	var mu sync.Mutex
	mux := http.NewServeMux()
	count := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hits %d conns %d\n", atomic.LoadInt64(&hits), atomic.LoadInt64(&conns))
	}
	mux.HandleFunc("/hit", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&hits, 1)
		count(w, r)
	})
	mux.HandleFunc("/count", count)
	mux.HandleFunc("/ticks", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		moved := "all spinning"
		for i := range last {
			// A plain read of a counter another goroutine writes:
			// only whether it changed matters here.
			n := spins[i]
			if n == last[i] {
				moved = "stuck"
			}
			last[i] = n
		}
		fmt.Fprintf(w, "ticks %d %s\n", atomic.LoadInt64(&ticks), moved)
	})
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			atomic.AddInt64(&conns, 1)
		}
	}}
	port := ln.Addr().(*net.TCPAddr).Port
	p := os.Args[1] + "/port"
	os.WriteFile(p+".tmp", []byte(fmt.Sprintf("%d\n", port)), 0644)
	os.Rename(p+".tmp", p)
	srv.Serve(ln)
}
