// Keeps keyboard focus where the person was after htmx swaps part of the page: on the form
// that opened, on the row that was saved, or on its section when the row went away.
let lastSection = null;

document.addEventListener("htmx:beforeRequest", (event) => {
  lastSection = event.detail.elt.closest("section");
});

function focusQuietly(element) {
  if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) element.setAttribute("tabindex", "-1");
  element.focus({ preventScroll: false });
}

document.addEventListener("htmx:afterSettle", (event) => {
  // A region that polls (hx-trigger="every …", an import's progress) refreshes in place: it
  // never takes the focus, nor scrolls the page to itself.
  if (event.detail.elt.matches("[hx-trigger^='every']")) return;
  const focused = document.activeElement;
  if (focused && focused !== document.body && focused.isConnected) return;
  const swapped = event.detail.elt;
  if (swapped && swapped.isConnected) {
    const field = swapped.querySelector("[autofocus], input:not([type=hidden]), select, textarea");
    const note = swapped.querySelector("[role=status], [role=alert]");
    const action = swapped.querySelector("a[href], button");
    focusQuietly((swapped.matches(".editing") && field) || note || action || swapped);
  } else if (lastSection && lastSection.isConnected) {
    focusQuietly(lastSection.querySelector("h2") || lastSection);
  }
});
