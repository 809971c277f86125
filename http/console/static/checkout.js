// latchkey console: a check-out's status, live. The check-out stream
// (/console/events) says when it changed; its state call says what. While
// it runs, the time left counts down (from the server's count, not the
// browser's clock) and the expiry warning shows when it is due.
(() => {
  const status = document.getElementById('co-status');
  if (!status) return;
  const id = status.dataset.id;
  const left = document.getElementById('co-left');
  const countdown = document.getElementById('co-countdown');
  const warning = document.getElementById('co-warning');
  let endsAt = 0; // by this page's clock
  let warnSeconds = 0;
  const clock = (s) => {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (n) => String(n).padStart(2, '0');
    return (h ? `${h}:${two(m)}` : `${m}`) + `:${two(sec)}`;
  };
  const tick = () => {
    if (!endsAt) return;
    const s = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
    countdown.textContent = clock(s);
    if (warnSeconds && s > 0 && s <= warnSeconds && warning.hidden) {
      const mins = Math.ceil(s / 60);
      warning.textContent = `This check-out ends in ${mins <= 1 ? 'less than a minute' : mins + ' minutes'}. Extend it or check in.`;
      warning.hidden = false;
    }
  };
  const running = (st) => {
    left.hidden = !st.can_extend;
    endsAt = st.can_extend ? Date.now() + st.seconds_left * 1000 : 0;
    warnSeconds = st.warn_seconds;
    if (st.warning) {
      warning.textContent = st.warning;
      warning.hidden = false;
    } else if (!st.can_extend || st.seconds_left > st.warn_seconds) {
      warning.hidden = true;
    }
    tick();
  };
  const show = (st) => {
    status.textContent = st.words;
    status.dataset.status = st.status;
    document.getElementById('checkinform').hidden = !st.can_check_in;
    document.getElementById('cancelform').hidden = !st.can_cancel;
    document.getElementById('extendform').hidden = !st.can_extend;
    running(st);
  };
  running({ can_extend: !left.hidden, seconds_left: Number(left.dataset.seconds), warn_seconds: Number(left.dataset.warn),
    warning: warning.hidden ? '' : warning.textContent });
  setInterval(tick, 1000);
  const refresh = () =>
    fetch(`/checkouts/${encodeURIComponent(id)}/state`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : null))
      .then((st) => st && show(st))
      .catch(() => {});
  const events = new EventSource('/console/events?topics=checkouts');
  events.onopen = refresh; // and whatever changed before the stream was open
  for (const a of ['checkout.deliver', 'checkout.reply', 'checkout.checkin', 'checkout.expire', 'checkout.extend', 'checkout.request', 'checkout.warn']) {
    events.addEventListener(a, (e) => {
      try {
        if (JSON.parse(e.data).target === id) refresh();
      } catch (_) { /* not ours */ }
    });
  }
  window.addEventListener('pagehide', () => events.close());
})();
