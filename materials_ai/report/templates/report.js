window.addEventListener("load", function () {
  var bad = [];
  document.querySelectorAll("img").forEach(function (img) {
    if (!(img.complete && img.naturalWidth > 0)) { bad.push(img.alt || "image"); }
  });
  document.documentElement.setAttribute("data-images-ok", bad.length ? "0" : "1");
  if (bad.length) { console.error("report: images failed to decode: " + bad.join(", ")); }
});
