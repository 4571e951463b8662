// A form with data-confirm="..." asks before it is sent (an irreversible
// decision: acceptance, refusal, approval, deletion, revocation). An event
// listener, not onsubmit="": the Content-Security-Policy refuses inline
// handlers (repair_flow/settings.py, CONTENT_SECURITY_POLICY).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});
