// Peer of bench_aio spawn (W1): N promises each wait 10 ms, Promise.all.
// usage: node node_spawn.js [N]
const { setTimeout: sleep } = require("timers/promises");
const n = parseInt(process.argv[2] || "100000", 10);
function rssKiB() { return process.memoryUsage().rss / 1024; }
(async () => {
  const rss0 = rssKiB();
  const t0 = process.hrtime.bigint();
  let peak = rss0;
  const all = [];
  for (let i = 0; i < n; i++) all.push(sleep(10));
  peak = Math.max(peak, rssKiB());
  await Promise.all(all);
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`RESULT wall_s ${dt.toPrecision(6)} s\nRESULT rss_per_task ${((peak - rss0) / n).toPrecision(4)} KiB`);
})();
