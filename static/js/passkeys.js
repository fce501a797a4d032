// Passkeys (WebAuthn) without a library. A form marked data-passkey="create" or "get" fetches
// its options from data-options (the server keeps the challenge in the session), asks the
// browser's authenticator, and posts the answer as JSON in its hidden "credential" field, with
// binary fields as base64url, the form py_webauthn reads.
function toBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function toText(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBytes(c.id) }));

function ask(kind, options) {
  options.challenge = toBytes(options.challenge);
  if (kind === "create") {
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = withIds(options.excludeCredentials);
    return navigator.credentials.create({ publicKey: options });
  }
  options.allowCredentials = withIds(options.allowCredentials);
  return navigator.credentials.get({ publicKey: options });
}

function answer(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toText(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toText(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toText(r.authenticatorData);
    response.signature = toText(r.signature);
    response.userHandle = r.userHandle ? toText(r.userHandle) : null;
  }
  return JSON.stringify({
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment,
    clientExtensionResults: credential.getClientExtensionResults(),
  });
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-passkey]");
  if (!form) return;
  event.preventDefault();
  const status = form.querySelector("[data-passkey-status]");
  const say = (text) => { if (status) status.textContent = text; };
  if (!window.PublicKeyCredential) {
    say("This browser cannot use passkeys.");
    return;
  }
  say("");
  try {
    const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    const reply = await fetch(form.dataset.options, { method: "POST", headers: { "X-CSRFToken": token } });
    if (reply.redirected || !reply.ok) {
      window.location.assign(reply.url);  // the sign-in expired: the server says where to go
      return;
    }
    const credential = await ask(form.dataset.passkey, await reply.json());
    form.querySelector("[name=credential]").value = answer(credential);
    form.submit();
  } catch (error) {
    say(error.name === "NotAllowedError"
      ? "No passkey was used: it was cancelled, or no passkey of yours for this site is on this device."
      : `The passkey did not work: ${error.message}`);
  }
});
