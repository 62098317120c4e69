// Peer of bench_pool (W3): 2 worker goroutines take N no-op jobs from a
// jobs channel and send results on a results channel; a feeder goroutine
// sends the jobs while main sums the results ("Go by Example" worker pool).
// usage: go_pool [jobs] [channel-buffer]  (buffer default N; 0: unbuffered)
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := 200000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	buf := n
	if len(os.Args) > 2 {
		buf, _ = strconv.Atoi(os.Args[2])
	}
	t0 := time.Now()
	jobs, results := make(chan int, buf), make(chan int, buf)
	for w := 0; w < 2; w++ {
		go func() {
			for j := range jobs {
				results <- j
			}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	total := 0
	for i := 0; i < n; i++ {
		total += <-results
	}
	dt := time.Since(t0).Seconds()
	if total != n*(n-1)/2 {
		panic("bad total")
	}
	fmt.Printf("RESULT tasks_per_s %.6g 1/s\nRESULT wall_s %.6g s\n", float64(n)/dt, dt)
}
