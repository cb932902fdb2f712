// The widget's CSS. It is adopted as a constructed stylesheet inside the shadow root, so a host
// page whose Content-Security-Policy forbids inline styles still renders it, and `all: initial`
// on the host element keeps the page's inherited styles out.
export const CSS = `
:host{all:initial;position:fixed;z-index:2147483000;bottom:16px;right:16px;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a}
:host([data-side=left]){right:auto;left:16px}
*{box-sizing:border-box;font:inherit;color:inherit}
/* The host element may be restyled by the page (even with !important), so the shadow tree's
   own top-level elements set font and colour themselves instead of inheriting them. */
.panel,.launch,.sr{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;
text-align:left;letter-spacing:normal;word-spacing:normal;text-transform:none;text-indent:0;visibility:visible}
button,input,textarea{margin:0}
[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.btn{border:2px solid var(--c);border-radius:8px;padding:8px 14px;cursor:pointer;
background:var(--c);color:var(--t);font-weight:600}
.btn.sec{background:#fff;color:var(--a)}
.btn.danger{background:#b3261e;border-color:#b3261e;color:#fff}
.link{border:0;background:none;padding:6px 4px;color:var(--a);text-decoration:underline;cursor:pointer}
.choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.choice{border:1px solid var(--a);border-radius:16px;background:#fff;color:var(--a);padding:6px 12px;cursor:pointer;font:inherit;text-align:left}
button:focus-visible,a:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px;box-shadow:0 0 0 5px #fff}
.launch{position:relative;width:60px;height:60px;border-radius:50%;border:0;cursor:pointer;
background:var(--c);color:var(--t);box-shadow:0 4px 14px rgba(0,0,0,.3);display:grid;place-items:center}
.launch svg,.icon svg{width:28px;height:28px;fill:currentColor}
.badge{position:absolute;top:-4px;right:-4px;min-width:24px;height:24px;border-radius:12px;
padding:0 6px;background:#b3261e;color:#fff;font-size:13px;font-weight:700;line-height:24px;text-align:center}
.panel{width:min(380px,calc(100vw - 32px));height:min(600px,calc(100vh - 32px));display:flex;
flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;
box-shadow:0 8px 30px rgba(0,0,0,.3);animation:rise .18s ease-out}
@keyframes rise{from{opacity:0;transform:translateY(12px)}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
@media (max-width:480px){:host{bottom:8px;right:8px}:host([data-side=left]){left:8px}
.panel{width:calc(100vw - 16px);height:calc(100vh - 16px)}}
.head{background:var(--c);color:var(--t);padding:12px 14px;display:flex;gap:8px;align-items:flex-start}
.head div{flex:1;min-width:0}
h2{margin:0;font-size:17px;font-weight:700}
h3{margin:0 0 8px;font-size:16px;font-weight:700}
.status{font-size:13px;margin-top:2px}
.icon{border:0;background:none;color:var(--t);cursor:pointer;padding:2px;border-radius:6px;width:36px;height:36px}
.icon svg{width:22px;height:22px}
.body{flex:1;overflow:auto;padding:14px;display:flex;flex-direction:column;gap:10px}
.body.chat{padding:0;gap:0}
.notice{background:#f3f4f6;border-radius:8px;padding:10px 12px;font-size:14px}
.notice p{margin:0 0 6px}
.notice a{color:#0b4fb3}
p{margin:0}
.muted{color:#4d4d4d;font-size:13px}
form{display:flex;flex-direction:column;gap:10px}
label{font-weight:600;font-size:14px;display:block;margin-bottom:3px}
input,textarea{width:100%;border:1px solid #6b6b6b;border-radius:6px;padding:8px;background:#fff}
input[aria-invalid=true],textarea[aria-invalid=true]{border:2px solid #b3261e}
.err{color:#b3261e;font-size:13px;margin-top:3px}
.alert{color:#b3261e;font-size:14px}
.menu{display:flex;flex-direction:column;align-items:flex-start;border-bottom:1px solid #ddd;padding:6px 10px}
ol{list-style:none;margin:0;padding:12px 14px;flex:1;overflow:auto;display:flex;flex-direction:column;gap:8px}
li{max-width:85%;align-self:flex-start}
li.me{align-self:flex-end;text-align:right}
li.sys{align-self:center;max-width:100%;text-align:center;font-style:italic;color:#4d4d4d;font-size:13px}
.who{font-size:12px;font-weight:600;color:#4d4d4d}
.txt{display:inline-block;text-align:left;padding:8px 11px;border-radius:12px;background:#eef0f3;
white-space:pre-wrap;overflow-wrap:anywhere}
li.me .txt{background:var(--c);color:var(--t)}
li.sys .txt{background:none;padding:0}
.meta{font-size:12px;color:#4d4d4d;margin-top:2px}
li.failed .meta{color:#b3261e}
.typing{padding:0 14px 4px;font-size:13px;color:#4d4d4d;min-height:19px}
.bar{padding:4px 14px;font-size:13px}
.bar:empty{padding:0}
.cv{display:flex;flex-direction:column;flex:1;min-height:0}
.view{display:flex;flex-direction:column;gap:10px}
.compose{border-top:1px solid #ddd;padding:10px;display:flex;flex-direction:row;gap:8px;align-items:flex-end}
.compose textarea{resize:none;height:60px;flex:1;min-width:0}
.end{border-top:1px solid #ddd;padding:12px;text-align:center}
.stars{border:0;padding:0;margin:0;display:flex;gap:6px;flex-wrap:wrap}
.stars legend{font-weight:600;font-size:14px;padding:0;margin-bottom:4px}
.stars label{display:flex;align-items:center;gap:4px;border:1px solid #6b6b6b;border-radius:8px;padding:6px 10px;cursor:pointer;margin:0}
.stars input{width:auto;margin:0}
.stars label:has(input:checked){background:var(--c);color:var(--t);border-color:var(--c)}
input[type=radio]:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
`
