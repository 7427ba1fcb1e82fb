import { SqliteAuditStore } from './src/responder/audit-store.ts';
for (const p of ['/tmp/auditchk/bad.db', '/tmp/auditchk/dir.db', '/proc/x/y.db']) {
  try { new SqliteAuditStore(p); } catch (e) { console.log((e as any).code, '::', (e as Error).message, '\n'); }
}
const s = new SqliteAuditStore('/tmp/auditchk/ok.db');
s.claim('a', 1); s.close();
