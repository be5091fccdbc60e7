// Progressive enhancement only: count the resend wait down and keep the resend button
// disabled until it is over. Without this script the server enforces the wait anyway.
for (const counter of document.querySelectorAll("[data-wait]")) {
  const note = counter.closest("[id]");
  const button = note && document.querySelector(`[data-wait-for="${note.id}"]`);
  let left = Number(counter.dataset.wait);
  if (!button || !(left > 0)) continue;
  button.disabled = true;
  const timer = setInterval(() => {
    left -= 1;
    counter.textContent = String(left);
    if (left <= 0) {
      clearInterval(timer);
      note.hidden = true;
      button.disabled = false;
    }
  }, 1000);
}
