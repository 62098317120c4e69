// Peer of bench_queue: 2 producer and 2 consumer goroutines move N ints
// through one buffered channel of capacity 1024 (Go's bounded queue).
// usage: go_queue [items] [capacity]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n, capacity := 1000000, 1024
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		capacity, _ = strconv.Atoi(os.Args[2])
	}
	fmt.Printf("INFO items %d\nINFO capacity %d\n", n, capacity)
	ch := make(chan int, capacity)
	var sum int64
	var producers, consumers sync.WaitGroup
	t0 := time.Now()
	for c := 0; c < 2; c++ {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			var local int64
			for v := range ch {
				local += int64(v)
			}
			atomic.AddInt64(&sum, local)
		}()
	}
	for p := 0; p < 2; p++ {
		producers.Add(1)
		go func(id int) {
			defer producers.Done()
			for i := id; i < n; i += 2 {
				ch <- i + 1
			}
		}(p)
	}
	producers.Wait()
	close(ch)
	consumers.Wait()
	dt := time.Since(t0).Seconds()
	if sum != int64(n)*int64(n+1)/2 {
		panic("items lost")
	}
	fmt.Printf("RESULT items_per_s %.6g 1/s\nRESULT wall_s %.6g s\n", float64(n)/dt, dt)
}
