import { createHash } from 'node:crypto';

// The status page: one self-contained HTML document, no build step and no external assets (it must
// work on an air-gapped network). It renders from the JSON endpoints /-/status, /-/slo and
// /-/alerts and refreshes itself every 5 s. Every value from those endpoints goes through esc():
// image names, client addresses and alert texts come from clients and must never become markup.

const STYLE = `
:root{--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--mut:#5f6b7a;--line:#e3e6ea;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--bar:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--mut:#8d96a0;--line:#30363d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--bar:#2f81f7}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:baseline;padding:.8rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
h1{font-size:1.15rem;margin:0}h2{font-size:.95rem;margin:0 0 .5rem;color:var(--mut);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
main{display:grid;gap:1rem;padding:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr))}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;min-width:0}
.wide{grid-column:1/-1}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--mut);font-weight:600;font-size:.8rem}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.dot{display:inline-block;width:.65rem;height:.65rem;border-radius:50%;margin-right:.35rem;vertical-align:middle}
.up{background:var(--ok)}.down{background:var(--bad)}.failing{background:var(--warn)}.unknown{background:var(--mut)}.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.mut{color:var(--mut)}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:.6rem}.kpi b{display:block;font-size:1.3rem}
.meter{height:.6rem;background:var(--line);border-radius:4px;overflow:hidden;margin:.3rem 0 .6rem}.meter i{display:block;height:100%;background:var(--bar)}
ul{list-style:none;margin:0;padding:0}li{padding:.4rem 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
.tag{font-size:.75rem;padding:.05rem .4rem;border-radius:4px;border:1px solid currentColor;margin-right:.4rem}
#age{margin-left:auto}`;

const SCRIPT = `
const $=(id)=>document.getElementById(id);
const esc=(v)=>String(v??'').replace(/[&<>"']/g,(c)=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const num=(n,d=0)=>n==null?'–':Number(n).toLocaleString(undefined,{maximumFractionDigits:d,minimumFractionDigits:d});
const ms=(n)=>n==null?'–':n<1000?num(n,n<10?1:0)+' ms':num(n/1000,2)+' s';
const pct=(x,d=1)=>x==null?'–':num(x*100,d)+' %';
const bytes=(b)=>{const u=['B','KiB','MiB','GiB','TiB'];let i=0;while(b>=1024&&i<u.length-1){b/=1024;i++}return num(b,i?1:0)+' '+u[i]};
const ago=(t)=>{const s=Math.round((Date.now()-Date.parse(t))/1000);return s<60?s+' s ago':s<3600?Math.round(s/60)+' min ago':s<86400?Math.round(s/3600)+' h ago':Math.round(s/86400)+' d ago'};
const rows=(list,cols,empty)=>list.length?list.map((r)=>'<tr>'+cols.map((c)=>'<td'+(c.n?' class="n"':'')+'>'+c.f(r)+'</td>').join('')+'</tr>').join(''):'<tr><td class="mut" colspan="'+cols.length+'">'+empty+'</td></tr>';
const head=(cols)=>'<tr>'+cols.map((c)=>'<th'+(c.n?' class="n"':'')+'>'+c.h+'</th>').join('')+'</tr>';
const table=(id,cols,list,empty)=>{$(id).innerHTML='<table>'+head(cols)+rows(list,cols,empty)+'</table>'};
const STATE={up:'up',failing:'failing: its last request failed',down:'down: requests skip it',unknown:'not asked yet'};
function upstreams(s){table('ups',[
 {h:'Upstream',f:(u)=>'<span class="dot '+esc(u.state)+'" title="'+esc(STATE[u.state]||u.state)+'"></span>'+esc(u.upstream)},
 {h:'Registry',f:(u)=>esc(u.registry)},{h:'Latency',n:1,f:(u)=>ms(u.latencyMs)},
 {h:'Last error',f:(u)=>u.lastError?'<span class="bad">'+esc(u.lastError)+'</span>'+(u.failingSince?' <span class="mut">since '+esc(ago(u.failingSince))+'</span>':''):(u.state==='unknown'?'<span class="mut">not asked yet</span>':'–')},
 {h:'Req 5m',n:1,f:(u)=>num(u.requests5m)},{h:'Err 5m',n:1,f:(u)=>'<span class="'+(u.errors5m?'bad':'')+'">'+num(u.errors5m)+'</span>'},
 {h:'Rate limit',n:1,f:(u)=>u.rateLimitRemaining==null?'–':num(u.rateLimitRemaining)+(u.rateLimitLimit?' / '+num(u.rateLimitLimit):'')}],s.upstreams,'no upstreams configured')}
function cache(s){const c=s.cache,f=c.maxBytes?c.bytes/c.maxBytes:null;
 $('cache').innerHTML='<div class="kpis"><div class="kpi">Used<b>'+bytes(c.bytes)+'</b><span class="mut">'+(c.maxBytes?'of '+bytes(c.maxBytes):'no limit')+'</span></div>'
 +'<div class="kpi">Hit ratio 1 h<b>'+pct(c.hitRatio1h)+'</b><span class="mut">'+num(c.requests1h)+' requests</span></div>'
 +'<div class="kpi">Blobs<b>'+num(c.blobs)+'</b><span class="mut">'+num(c.evictions)+' evicted</span></div>'
 +(c.index?'<div class="kpi">Index<b class="'+(c.index.phase==='ready'?'ok':'')+'" id="index">'+esc(c.index.phase)+'</b><span class="mut">'+(c.index.phase==='ready'?bytes(c.index.fileBytes)+' on disk':num(c.index.scanned)+' objects read')+'</span></div>':'')
 +'<div class="kpi">In flight<b>'+num(s.inflight.fetches)+'</b><span class="mut">'+num(s.inflight.waiting)+' waiting</span></div>'
 +(s.cluster?'<div class="kpi">Fleet<b class="'+(s.cluster.coordination==='ok'?'ok':'bad')+'" id="fleet">'+esc(s.cluster.coordination)+'</b><span class="mut">'+esc(s.cluster.instance)+'</span></div>':'')+'</div>'
 +(f==null?'':'<div class="meter" title="'+pct(f)+'"><i id="bar"></i></div>');
 if(f!=null)$('bar').style.width=Math.min(100,f*100).toFixed(1)+'%';
 $('pulls').textContent=num(s.traffic.pulls1h)+' pulls in the last hour, '+num(s.traffic.pulls24h)+' in 24 h';
 $('since').textContent='up since '+new Date(s.startedAt).toLocaleString();
 $('tools').textContent='regway tools: '+num(s.tools.requests1h)+' requests in the last hour'+(s.tools.byTool.length?' ('+s.tools.byTool.map((x)=>x.tool+' '+num(x.requests)).join(', ')+')':'')+', not counted as pulls';}
function slo(r){const t=r.targets;$('slotarget').textContent='targets: '+t.successPercent+' % success, '+ms(t.latencyMs)+' mean latency';
 const cls=(v)=>v==null?'mut':v?'ok':'bad';
 table('slo',[{h:'Window',f:(w)=>w.window},{h:'Pulls',n:1,f:(w)=>num(w.pulls)},{h:'Failed',n:1,f:(w)=>num(w.failed)},
 {h:'Success',n:1,f:(w)=>'<span class="'+cls(w.met.success)+'">'+(w.successPercent==null?'–':num(w.successPercent,3)+' %')+'</span>'},
 {h:'Mean',n:1,f:(w)=>'<span class="'+cls(w.met.latency)+'">'+ms(w.latencyMs.mean)+'</span>'},{h:'p95',n:1,f:(w)=>ms(w.latencyMs.p95)},{h:'p99',n:1,f:(w)=>ms(w.latencyMs.p99)},
 {h:'Budget left',n:1,f:(w)=>{const b=w.errorBudget.remaining;return '<span title="'+pct(b,0)+'" class="'+(b<0?'bad':b<0.25?'warn':'ok')+'">'+(b<0?'spent':pct(b,0))+'</span>'}}],r.windows,'no data');
 const bad=r.windows.some((w)=>w.met.success===false||w.met.latency===false);$('overall').className=bad?'bad':'ok';$('overall').textContent=bad?'SLO at risk':'SLO met';}
function alerts(a){const l=a.alerts;$('alerts').innerHTML=l.length?l.map((x)=>'<li><span class="tag '+(x.severity==='critical'?'bad':'warn')+'">'+esc(x.rule)+'</span>'+esc(x.summary)+' <span class="mut">'+ago(x.time?new Date(x.time).toISOString():'')+'</span></li>').join(''):'<li class="mut">no alerts</li>';}
function tops(s){table('imgs',[{h:'Image',f:(x)=>esc(x.image)},{h:'Pulls 24 h',n:1,f:(x)=>num(x.pulls)}],s.topImages,'no pulls yet');
 table('clients',[{h:'Client',f:(x)=>esc(x.client)},{h:'Pulls 24 h',n:1,f:(x)=>num(x.pulls)}],s.topClients,'no pulls yet');}
function p2p(s){const p=s.p2p,el=$('p2p');el.parentNode.hidden=!p;if(!p)return;
 if(p.role==='node'){el.innerHTML='<div class="kpis">'+Object.entries(p.received).map(([k,v])=>'<div class="kpi">'+(k==='peer'?'From peers':'From '+esc(k))+'<b>'+bytes(v)+'</b></div>').join('')
 +'<div class="kpi">Parent changes<b>'+num(p.parentChanges)+'</b></div><div class="kpi">Quarantines<b class="'+(p.quarantines?'bad':'')+'">'+num(p.quarantines)+'</b></div>'
 +'<div class="kpi">Scheduler errors<b class="'+(p.schedulerErrors?'warn':'')+'">'+num(p.schedulerErrors)+'</b></div></div>';return}
 const lines=[];for(const t of p.trees){const by=new Map(t.nodes.map((n)=>[n.id,n])),seen=new Set();
 const walk=(n,d)=>{if(seen.has(n.id))return;seen.add(n.id);lines.push({digest:t.digest,n,d});for(const c of n.children){const m=by.get(c);if(m)walk(m,d+1)}};
 for(const n of t.nodes)if(!n.parent||!by.has(n.parent))walk(n,0)}
 table('p2p',[{h:'Blob',f:(x)=>x.d?'':esc(x.digest.slice(0,19))},{h:'Node (parent above)',f:(x)=>'&nbsp;'.repeat(x.d*3)+(x.d?'└ ':'')+esc(x.n.id)},
 {h:'Received',n:1,f:(x)=>bytes(x.n.bytes)+(x.n.size?' / '+bytes(x.n.size):'')},{h:'State',f:(x)=>x.n.done?'holds it':x.d||x.n.parent?'receiving':'receiving from the gateway'}],lines,'no blob being distributed now')}
async function get(p){const r=await fetch(p,{cache:'no-store'});if(!r.ok)throw new Error(p+': HTTP '+r.status);return r.json()}
async function refresh(){try{const [s,r,a]=await Promise.all([get('/-/status'),get('/-/slo'),get('/-/alerts?limit=20')]);
 upstreams(s);cache(s);slo(r);alerts(a);tops(s);p2p(s);$('age').textContent='updated '+new Date().toLocaleTimeString();$('age').className='mut';document.body.dataset.loaded='1';}
 catch(e){$('age').textContent='refresh failed: '+e.message;$('age').className='bad';}}
refresh();setInterval(refresh,5000);`;

const BODY = `<header><h1>regway</h1><span id="overall" class="mut">loading…</span><span id="pulls" class="mut"></span><span id="tools" class="mut"></span><span id="since" class="mut"></span><span id="age" class="mut"></span></header>
<main>
<section class="wide"><h2>Upstreams</h2><div id="ups" class="scroll"></div></section>
<section><h2>Cache</h2><div id="cache"></div></section>
<section><h2>Recent alerts</h2><ul id="alerts"></ul></section>
<section class="wide"><h2>SLO</h2><div class="mut" id="slotarget"></div><div id="slo" class="scroll"></div></section>
<section><h2>Top images</h2><div id="imgs" class="scroll"></div></section>
<section><h2>Top clients</h2><div id="clients" class="scroll"></div></section>
<section class="wide" hidden><h2>Peer-to-peer</h2><div id="p2p" class="scroll"></div></section>
</main>`;

const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

/** The page and the Content-Security-Policy that allows exactly its own inline script and style. */
export const STATUS_PAGE = {
  html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>regway status</title><link rel="icon" href="data:,"><style>${STYLE}</style></head><body>${BODY}<script>${SCRIPT}</script></body></html>`,
  csp: `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
};
