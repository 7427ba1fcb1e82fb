// Preloaded into a process under test (node --import): V8's sampling heap profiler with the objects
// that garbage collection already freed included (what a request allocates, not what it keeps),
// written as JSON to $ALLOC_OUT when the process is sent SIGTERM. Used by bench/gateway-profile.ts --alloc.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
process.once('SIGTERM', () => {
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err === null) writeFileSync(process.env.ALLOC_OUT, JSON.stringify(r.profile));
    process.exit(0);
  });
});
