// Peer of bench_subprocess (W7): Go's os/exec on the same workloads.
//
//	spawn [N=1000] [reps=5]          exec.Command("/bin/true").Run() N times
//	threads [N=1000] [T=8] [reps=5]  the same N runs shared by T goroutines
//	sleep10 [reps=3]                 10 x exec.Command("sleep", "1").Start(),
//	                                 then Wait() each
//
// Prints RESULT lines (medians): spawns/s and the parent's CPU per spawn
// (syscall.Getrusage(RUSAGE_SELF) user + system over the run, / N).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func runs(key string, v []float64) {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'g', 6, 64)
	}
	fmt.Printf("INFO %s %s\n", key, strings.Join(parts, ","))
}

func result(metric string, value float64, unit string) {
	fmt.Printf("RESULT %s %.6g %s\n", metric, value, unit)
}

func runTrue() error { return exec.Command("/bin/true").Run() }

func spawn(n int) (float64, float64) {
	c0, t0 := cpuSeconds(), time.Now()
	for i := 0; i < n; i++ {
		if err := runTrue(); err != nil {
			panic(err)
		}
	}
	dt := time.Since(t0).Seconds()
	return float64(n) / dt, (cpuSeconds() - c0) * 1e6 / float64(n)
}

func threads(n, nthreads int) (float64, float64, int64) {
	var failures int64
	var wg sync.WaitGroup
	c0, t0 := cpuSeconds(), time.Now()
	for i := 0; i < nthreads; i++ {
		count := n / nthreads
		if i < n%nthreads {
			count++
		}
		wg.Add(1)
		go func(count int) {
			defer wg.Done()
			for j := 0; j < count; j++ {
				if runTrue() != nil {
					atomic.AddInt64(&failures, 1)
				}
			}
		}(count)
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	return float64(n) / dt, (cpuSeconds() - c0) * 1e6 / float64(n), failures
}

func sleep10() float64 {
	t0 := time.Now()
	cmds := make([]*exec.Cmd, 10)
	for i := range cmds {
		cmds[i] = exec.Command("sleep", "1")
		if err := cmds[i].Start(); err != nil {
			panic(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			panic(err)
		}
	}
	return time.Since(t0).Seconds()
}

func arg(i, dflt int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil {
			return v
		}
	}
	return dflt
}

func main() {
	mode := "spawn"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	fmt.Printf("INFO mode %s\n", mode)
	switch mode {
	case "spawn":
		n, reps := arg(2, 1000), arg(3, 5)
		runTrue() // warm up
		rate, cpu := make([]float64, reps), make([]float64, reps)
		for i := range rate {
			rate[i], cpu[i] = spawn(n)
		}
		runs("spawns_per_s_runs", rate)
		result("spawns_per_s", median(rate), "1/s")
		result("cpu_us_per_spawn", median(cpu), "us")
	case "threads":
		n, nthreads, reps := arg(2, 1000), arg(3, 8), arg(4, 5)
		rate, cpu := make([]float64, reps), make([]float64, reps)
		var failures int64
		for i := range rate {
			var f int64
			rate[i], cpu[i], f = threads(n, nthreads)
			failures += f
		}
		runs("spawns_per_s_runs", rate)
		result("spawns_per_s", median(rate), "1/s")
		result("failures", float64(failures), "spawns")
		result("cpu_us_per_spawn", median(cpu), "us")
	case "sleep10":
		reps := arg(2, 3)
		wall := make([]float64, reps)
		for i := range wall {
			wall[i] = sleep10()
		}
		runs("wall_s_runs", wall)
		result("wall_s", median(wall), "s")
	default:
		fmt.Fprintln(os.Stderr, "usage: go_spawn_exec [spawn [N] [reps] | threads [N] [T] [reps] | sleep10 [reps]]")
		os.Exit(2)
	}
}
