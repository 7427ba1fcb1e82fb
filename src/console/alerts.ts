/**
 * Firing and pending alerts as the page lists them: Prometheus' rule
 * evaluation (`/api/v1/alerts`, pending and firing) and what reached
 * Alertmanager (`/api/v2/alerts`, active, silenced or inhibited), each with
 * its `runbook_url` annotation when the rule has one.
 */
export interface ConsoleAlert {
  readonly source: 'prometheus' | 'alertmanager';
  readonly name: string;
  /** Prometheus: `pending` or `firing`; Alertmanager: `active`, `suppressed` or `unprocessed`. */
  readonly state: string;
  readonly severity: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly summary: string;
  readonly runbookURL: string | null;
  /** RFC 3339: when it became active (Prometheus) or started (Alertmanager). */
  readonly since: string | null;
}

interface PromAlert {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  state?: string;
  activeAt?: string;
}

interface AmAlert {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  status?: { state?: string };
  startsAt?: string;
}

/** Maps Prometheus' `/api/v1/alerts` body; firing first, then by name. */
export function fromPrometheus(body: unknown): ConsoleAlert[] {
  const alerts = ((body as { data?: { alerts?: PromAlert[] } }).data?.alerts ?? []).map((a) =>
    toAlert('prometheus', a.labels, a.annotations, a.state ?? 'unknown', a.activeAt),
  );
  return alerts.sort((a, b) => rank(a.state) - rank(b.state) || a.name.localeCompare(b.name));
}

/** Maps Alertmanager's `/api/v2/alerts` body (a JSON array). */
export function fromAlertmanager(body: unknown): ConsoleAlert[] {
  const list = Array.isArray(body) ? (body as AmAlert[]) : [];
  return list.map((a) => toAlert('alertmanager', a.labels, a.annotations, a.status?.state ?? 'unknown', a.startsAt)).sort((a, b) => a.name.localeCompare(b.name));
}

function toAlert(source: ConsoleAlert['source'], labels: Record<string, string> = {}, annotations: Record<string, string> = {}, state: string, since: string | undefined): ConsoleAlert {
  return {
    source,
    name: labels.alertname ?? '(unnamed)',
    state,
    severity: labels.severity ?? 'none',
    labels,
    summary: annotations.summary ?? annotations.description ?? '',
    runbookURL: safeLink(annotations.runbook_url),
    since: since ?? null,
  };
}

/** Only http(s) links reach the page's `href`: an annotation is not trusted to be a URL. */
function safeLink(url: string | undefined): string | null {
  if (url === undefined) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function rank(state: string): number {
  return state === 'firing' ? 0 : state === 'pending' ? 1 : 2;
}
