// A W5 (TCP echo) reference peer, unchanged below this comment.
// W5 tcp-echo server, Node.js net: socket.pipe(socket).  usage: node node.js PORT
'use strict';
const net = require('net');

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  sock.on('error', () => {});
  sock.pipe(sock);
});
server.listen({ host: '127.0.0.1', port: parseInt(process.argv[2], 10), backlog: 1024 });
