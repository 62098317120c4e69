// A W5 (TCP echo) reference peer, unchanged below this comment.
// W5 tcp-echo server, Go net: one goroutine per connection, io.Copy(c, c).
// (Go sets TCP_NODELAY on TCP connections by default.)
package main

import (
	"io"
	"log"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func(c net.Conn) {
			defer c.Close()
			io.Copy(c, c)
		}(c)
	}
}
