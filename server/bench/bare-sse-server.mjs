// The floor for the fan-out figures: node:http alone holding SSE responses open, with no
// application behind them. Every request gets the SSE head and a `put`; an IPC 'kill'
// writes one `patch` to every open response. run.mjs drives it with the same load
// generators and reads the same /proc figures as for `vane serve`.
import '../../engine/bench/guard.mjs'
import http from 'node:http'

const HEAD = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-store, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
}
const open = new Set()
const server = http.createServer((req, res) => {
  res.writeHead(200, HEAD)
  res.write('id: 1\nevent: put\ndata: {"flags":{}}\n\n')
  open.add(res)
  res.on('close', () => open.delete(res))
  req.resume()
})
server.keepAliveTimeout = 0
server.requestTimeout = 0
server.headersTimeout = 0
process.on('message', (m) => {
  if (m === 'kill') {
    const patch = 'id: 2\nevent: patch\ndata: {"flags":{}}\n\n'
    for (const res of open) res.write(patch)
  } else if (m === 'heap') process.send({ type: 'heap', bytes: process.memoryUsage().heapUsed, open: open.size })
})
process.on('disconnect', () => process.exit(0))
server.listen(0, process.env.HOST ?? '127.0.0.1', () =>
  process.send({ type: 'listening', port: server.address().port }),
)
