// The cache-at-scale benchmark's row (one per cache size) and its Markdown table.

export interface ScaleRow {
  blobs: number;
  repos: number;
  tags: number;
  totalBytes: number;
  folderAction: string;
  folderMs: number;
  /** 1-minute load average before and after this size's measurements. */
  loadAvgBefore?: number;
  loadAvgAfter?: number;
  pageCacheDropped?: boolean;
  /** Spawn to the first 200 from GET /v2/, polled every 10 ms. */
  readyMs?: number;
  /** Spawn to the "cache loaded" log line, when the build logs one. */
  cacheLoadedMs?: number;
  rssStartMB?: number;
  /** First start on a cache without an index: spawn to the index complete (built in the background), and to /v2/ answering meanwhile. */
  indexBuildMs?: number;
  indexReadyMs?: number;
  pullMs?: number;
  pulledBlobs?: number;
  rssAfterPullMB?: number;
  rssEndMB?: number;
  /** The catalog request failed (e.g. the connection closed at the idle timeout). */
  catalogError?: string;
  catalogPageMs?: number;
  catalogPageFirstMs?: number;
  catalogWalkMs?: number;
  catalogRepos?: number;
  catalogPages?: number;
  /** false: the walk hit its time budget; catalogRepos is how far it got. */
  catalogWalkComplete?: boolean;
  tagsListMs?: number;
  tagsListFirstMs?: number;
  manifestRps?: number;
  manifestRpsEvicting?: number;
  evictMs?: number;
  evictedBlobs?: number;
  evictNote?: string;
  loadNon200?: number;
  loadErrors?: number;
  bytesAfterEviction?: number;
  gcMs?: number;
  gcCacheDropped?: boolean;
  gcRemoved?: number;
  gcEvictedPct?: number;
  gcOutput?: string;
}

const f0 = (n: number | undefined) => (n === undefined ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
const k = (n: number) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : String(n));

function evictCell(r: ScaleRow): string {
  if (r.manifestRps === undefined) return '-';
  if (r.manifestRpsEvicting === undefined) return `${f0(r.manifestRps)} / - (${r.evictNote ?? 'not measured'})`;
  const ratio = r.manifestRpsEvicting / r.manifestRps;
  return `${f0(r.manifestRps)} / ${f0(r.manifestRpsEvicting)} (${ratio.toFixed(2)}x; ${k(r.evictedBlobs ?? 0)} blobs in ${f0(r.evictMs)} ms)`;
}

const gcCell = (r: ScaleRow) => (r.gcMs === undefined ? '-' : `${f0(r.gcMs)}${r.gcEvictedPct !== undefined ? ` (${r.gcEvictedPct.toFixed(0)} %)` : ''}`);
const readyCell = (r: ScaleRow) => (r.readyMs === undefined ? '-' : `${f0(r.readyMs)}${r.cacheLoadedMs !== undefined ? ` (${f0(r.cacheLoadedMs)})` : ''}`);
function walkCell(r: ScaleRow): string {
  if (r.catalogWalkMs === undefined) return '-';
  if (r.catalogWalkComplete !== false) return `${f0(r.catalogWalkMs)} (${k(r.catalogRepos ?? 0)})`;
  // Unfinished: the time so far, how far it got, and the whole walk at the same pace.
  const est = (r.catalogWalkMs * r.repos) / Math.max(1, r.catalogRepos ?? 0);
  return `> ${f0(r.catalogWalkMs)} (stopped at ${k(r.catalogRepos ?? 0)} of ${k(r.repos)}; ~${f0(est / 1000)} s whole)`;
}

export const SCALE_HEADER = [
  'blobs / repos', 'ready ms (index loaded)', 'RSS start MB', 'RSS after pull MB', 'catalog page ms', 'tags/list ms',
  'catalog walk ms (repos)', 'gc ms (evicted)', 'first start: index built in ms', 'warm manifest req/s: without / while evicting (ratio; evicted in)',
];

export function scaleCells(r: ScaleRow): string[] {
  return [
    `${k(r.blobs)} / ${k(r.repos)}`, readyCell(r), f0(r.rssStartMB), f0(r.rssAfterPullMB), r.catalogError ? `failed: ${r.catalogError}` : f0(r.catalogPageMs), f0(r.tagsListMs),
    walkCell(r), gcCell(r), r.indexBuildMs === undefined ? '-' : `${f0(r.indexBuildMs)} (serving after ${f0(r.indexReadyMs)})`, evictCell(r),
  ];
}

export function formatScaleTable(rows: ScaleRow[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(SCALE_HEADER), line(SCALE_HEADER.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map((r) => line(scaleCells(r)))].join('\n');
}
