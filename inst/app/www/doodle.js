// The drawing canvas of doodles_app(): records each stroke as the Quick, Draw! dataset records it
// (the pointer's x and y in canvas pixels and the milliseconds since the drawing began), sends it
// to the server when the pointer is lifted, and draws the strokes the server holds (after an undo,
// a clear, or a stroke it refused). Pointer events cover the mouse, touch and pens alike.
(function () {
  "use strict";

  function setup(canvas) {
    var context = canvas.getContext("2d");
    var strokes = []; // [[xs, ys], ...] as the server holds them
    var current = null; // the stroke being drawn: {x, y, t}
    var started = null; // time of the drawing's first point

    // A sharp canvas on high-density screens: its pixels follow the device, its coordinates CSS.
    var ratio = window.devicePixelRatio || 1;
    var cssWidth = canvas.width, cssHeight = canvas.height;
    canvas.style.width = cssWidth + "px";
    canvas.style.height = cssHeight + "px";
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    context.setTransform(ratio, 0, 0, ratio, 0, 0);

    function line(xs, ys) {
      context.beginPath();
      context.moveTo(xs[0], ys[0]);
      for (var i = 1; i < xs.length; i++) context.lineTo(xs[i], ys[i]);
      if (xs.length === 1) context.lineTo(xs[0] + 0.1, ys[0]);
      context.stroke();
    }

    function redraw() {
      context.fillStyle = "#fff";
      context.fillRect(0, 0, cssWidth, cssHeight);
      context.strokeStyle = "#111";
      context.lineWidth = 4;
      context.lineCap = "round";
      context.lineJoin = "round";
      strokes.forEach(function (s) { line(s[0], s[1]); });
      if (current) line(current.x, current.y);
    }

    function record(event) {
      var box = canvas.getBoundingClientRect();
      if (started === null) started = event.timeStamp;
      current.x.push(event.clientX - box.left);
      current.y.push(event.clientY - box.top);
      current.t.push(Math.round(event.timeStamp - started));
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      current = { x: [], y: [], t: [] };
      record(event);
      redraw();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!current) return;
      event.preventDefault();
      // The browser delivers one move per frame; the points in between come with it.
      var moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      (moves.length > 0 ? moves : [event]).forEach(record);
      redraw();
    });
    function finish(event) {
      if (!current) return;
      var stroke = current;
      current = null;
      strokes.push([stroke.x, stroke.y]);
      redraw();
      Shiny.setInputValue("stroke", JSON.stringify(stroke), { priority: "event" });
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);

    Shiny.addCustomMessageHandler("doodle_strokes", function (message) {
      strokes = JSON.parse(message);
      if (strokes.length === 0 && !current) started = null;
      redraw();
    });
    redraw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("doodle_canvas");
    if (canvas) setup(canvas);
  });
})();
