// Streamlit's component protocol, spoken by hand (postMessage to the parent page).
// The parent sends {type: "streamlit:render", args}; we send componentReady, setFrameHeight
// and setComponentValue.

function send(type, data) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, data), "*");
}

export function onRender(callback) {
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const data = event.data || {};
    if (data.type === "streamlit:render") callback(data.args || {});
  });
  send("streamlit:componentReady", { apiVersion: 1 });
}

export function setFrameHeight(height) {
  send("streamlit:setFrameHeight", { height });
}

export function setValue(value) {
  send("streamlit:setComponentValue", { value, dataType: "json" });
}
