// Peer of bench_select: Go's select, three ways.
//   threads/tasks: two goroutines pass a token through two unbuffered
//   channels, each receiving with a select over its inbox and a quit
//   channel that stays empty: ns per round trip.
//   ready: one goroutine selects N times over two buffered channels that
//   always hold an item, sending back what it took: ns per select and the
//   first case's share.
// usage: go_select [pingpong|ready|all] [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func selectGet(inbox, quit chan int) int {
	select {
	case tok := <-inbox:
		return tok
	case <-quit:
		return -1
	}
}

func pingpong(n int) {
	toPong, toPing, quit := make(chan int), make(chan int), make(chan int)
	done := make(chan bool)
	go func() {
		for {
			tok := selectGet(toPong, quit)
			if tok < 0 {
				done <- true
				return
			}
			toPing <- tok
		}
	}()
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		toPong <- i
		if selectGet(toPing, quit) != i {
			panic("bad token")
		}
	}
	el := time.Since(t0)
	close(quit)
	<-done
	fmt.Printf("RESULT ns_per_rt %.6g ns\n", float64(el.Nanoseconds())/float64(n))
}

func ready(n int) {
	a, b := make(chan int, 4), make(chan int, 4)
	a <- 1
	b <- 2
	first := 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		select {
		case x := <-a:
			first++
			a <- x
		case y := <-b:
			b <- y
		}
	}
	el := time.Since(t0)
	fmt.Printf("RESULT ready_ns_per_select %.6g ns\n", float64(el.Nanoseconds())/float64(n))
	fmt.Printf("RESULT ready_first_case_share %.6g %%\n", 100*float64(first)/float64(n))
}

func main() {
	mode := "all"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	n := 0
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if mode == "all" || mode == "pingpong" {
		m := n
		if m == 0 {
			m = 200000
		}
		pingpong(m)
	}
	if mode == "all" || mode == "ready" {
		m := n
		if m == 0 {
			m = 1000000
		}
		ready(m)
	}
}
