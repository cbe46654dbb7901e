// Exam proctoring after the operator's consent: camera snapshots at the start and at
// two random moments, and one audio clip at the start, sent as attempt evidence to the
// API. Without a camera or microphone the attempt is reported as such, which sends it
// to manual review.
(function () {
  "use strict";
  var form = document.getElementById("paper");
  var notice = document.getElementById("proctor-status");
  if (!form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    report({ face_checks: [{ result: "camera_unavailable", reason: "no_media_devices" }] });
    return;
  }
  var remaining = parseInt(document.getElementById("countdown").getAttribute("data-remaining"), 10) || 0;
  var SNAPSHOT_WIDTH = 320;
  var AUDIO_SECONDS = 5;

  function report(evidence) {
    if (!form) { return Promise.resolve(); }
    return fetch(form.getAttribute("data-evidence"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(evidence)
    }).catch(function () { /* The next upload carries on; the server stamps each entry. */ });
  }

  function unavailable(error) {
    if (notice) { notice.hidden = false; }
    report({ face_checks: [{ result: "camera_unavailable", reason: String(error && error.name || error) }] });
  }

  navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(function (stream) {
    var video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;

    function snapshot(trigger) {
      var canvas = document.createElement("canvas");
      var width = video.videoWidth || SNAPSHOT_WIDTH;
      var height = video.videoHeight || Math.round(SNAPSHOT_WIDTH * 3 / 4);
      canvas.width = SNAPSHOT_WIDTH;
      canvas.height = Math.round(SNAPSHOT_WIDTH * height / width);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      report({ snapshots: [{ trigger: trigger, image: canvas.toDataURL("image/jpeg", 0.7) }] });
    }

    function recordAudio() {
      if (typeof MediaRecorder === "undefined") {
        report({ audio: [{ flagged: false, missing: "no_media_recorder" }] });
        return;
      }
      var recorder = new MediaRecorder(new MediaStream(stream.getAudioTracks()));
      var chunks = [];
      recorder.ondataavailable = function (event) { chunks.push(event.data); };
      recorder.onstop = function () {
        var reader = new FileReader();
        reader.onload = function () { report({ audio: [{ flagged: false, seconds: AUDIO_SECONDS, clip: reader.result }] }); };
        reader.readAsDataURL(new Blob(chunks, { type: recorder.mimeType }));
      };
      recorder.start();
      window.setTimeout(function () { recorder.stop(); }, AUDIO_SECONDS * 1000);
    }

    video.play().then(function () {
      snapshot("start");
      recordAudio();
      // Two more snapshots at random moments within the time left.
      for (var i = 0; i < 2; i++) {
        window.setTimeout(function () { snapshot("random"); }, Math.floor(Math.random() * Math.max(remaining - 10, 1)) * 1000);
      }
    }, unavailable);
  }, unavailable);
})();
