// Peer of bench_pingpong (W2): two goroutines pass a token through two
// unbuffered channels.  usage: go_pingpong [round-trips]
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
	toPong, toPing := make(chan int), make(chan int)
	done := make(chan bool)
	t0 := time.Now()
	go func() {
		for tok := range toPong {
			toPing <- tok
		}
		done <- true
	}()
	for i := 0; i < n; i++ {
		toPong <- i
		if <-toPing != i {
			panic("bad token")
		}
	}
	close(toPong)
	<-done
	fmt.Printf("RESULT ns_per_rt %.6g ns\n", float64(time.Since(t0).Nanoseconds())/float64(n))
}
