// Draws every <canvas data-chart="ID"> from the Chart.js configuration in <script type="application/json" id="ID">.
// Kept in a file (no inline scripts) so that the Content-Security-Policy can forbid inline code.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") { return; }
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var src = document.getElementById(canvas.dataset.chart);
    if (!src) { return; }
    try {
      new Chart(canvas, JSON.parse(src.textContent));
      canvas.dataset.rendered = "1";
    } catch (e) {
      canvas.insertAdjacentText("afterend", "chart failed: " + e);
    }
  });
});
