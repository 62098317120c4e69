// Peer of bench_aio spawn (W1): N goroutines each sleep 10 ms; wait for all.
// Prints wall time and RSS per goroutine.  usage: go_spawn [N]
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(s.Text())[1], 10, 64)
			return v
		}
	}
	return 0
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	rss0 := rssKiB()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { time.Sleep(10 * time.Millisecond); wg.Done() }()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("RESULT wall_s %.6g s\nRESULT rss_per_task %.4g KiB\n", dt, float64(ru.Maxrss-rss0)/float64(n))
}
