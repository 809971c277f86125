// latchkey console: a managed dialog's live lock (exclusive-edit-locks.txt).
// Without this script the dialog still works (each action reloads it);
// with it the badge, the controls and the lock buttons follow the lock as
// it changes: the lock stream (/console/events) says when, the dialog's
// state call says what, and the lease is renewed while the page is open.
(() => {
  const badge = document.getElementById('badge');
  if (!badge) return;
  const csrf = document.querySelector('input[name=csrf]').value;
  const $ = (id) => document.getElementById(id);
  let st = { mode: badge.dataset.mode, token: Number(badge.dataset.token), position: Number(badge.dataset.position), holder: '' };
  let submitting = false; // a form of the dialog itself: not a close
  document.addEventListener('submit', () => { submitting = true; });

  const form = (fields) => {
    const f = new URLSearchParams({ csrf });
    for (const [k, v] of Object.entries(fields)) f.set(k, v);
    return f;
  };
  // Answers can come back out of order: one older than the last shown
  // would put back a state the lock has left.
  let asked = 0;
  let shown = 0;
  const refresh = () => {
    const mine = ++asked;
    return fetch(badge.dataset.path + '/state', { method: 'POST', body: form(st.position > 0 ? { wait: '1' } : {}), credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : null))
      .then((n) => {
        if (n && mine > shown) {
          shown = mine;
          show(n);
        }
      })
      .catch(() => {});
  };

  function show(n) {
    const was = st.mode;
    const ex = n.mode === 'exclusive';
    badge.className = 'badge ' + (ex ? 'exclusive' : 'readonly');
    badge.dataset.mode = n.mode;
    badge.dataset.token = String(n.token || 0);
    $('access').textContent = 'ACCESS: ' + (ex ? 'EXCLUSIVE' : 'READ ONLY');
    $('holder').textContent = !ex && n.holder ? `Held by ${n.holder}${n.note ? ` (${n.note})` : ''} since ${n.since}` : '';
    $('position').textContent = n.position ? `You are number ${n.position} in the queue.` : '';
    document.querySelectorAll('.managed').forEach((e) => { e.disabled = !ex; });
    document.querySelectorAll('input.grant').forEach((e) => { e.value = ex ? String(n.token) : '0'; });
    $('closeform').hidden = !ex;
    $('reqform').hidden = ex;
    $('forceform').hidden = ex;
    if (n.mode !== was) document.querySelectorAll('.notice').forEach((e) => e.remove()); // said of the old state
    if (was === 'exclusive' && !ex) {
      const lost = $('lost');
      lost.textContent = `Your lock was taken by ${n.holder || 'someone else'}. What you typed is kept: ask for the lock again to apply it.`;
      lost.hidden = false;
    } else if (ex) {
      $('lost').hidden = true;
    }
    st = n;
  }

  const events = new EventSource('/console/events?topics=locks');
  // The stream tells of changes from when it connects: what changed since
  // the page was made (or while it reconnected) is read once it is open.
  events.addEventListener('open', refresh);
  for (const a of ['lock.acquire', 'lock.force', 'lock.grant', 'lock.release', 'lock.expire', 'lock.queue', 'lock.dequeue']) {
    events.addEventListener(a, (e) => {
      try {
        if (JSON.parse(e.data).target === badge.dataset.lock) refresh();
      } catch (_) { /* not an event of ours */ }
    });
  }
  setInterval(refresh, 20000); // the lease (60 s) renewed while open

  window.addEventListener('pagehide', () => {
    if (submitting) return;
    events.close();
    if (st.mode === 'exclusive') navigator.sendBeacon(badge.dataset.path + '/lock', form({ op: 'close', lock_token: String(st.token) }));
    else if (st.position > 0) navigator.sendBeacon(badge.dataset.path + '/lock', form({ op: 'leave' }));
  });
})();
