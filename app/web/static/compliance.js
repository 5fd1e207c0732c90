// The compliance page, for compliance officers only: find documents (compliance-find.js), erase
// them with signed receipts (compliance-erase.js), past erasures and the public key
// (compliance-records.js), and the audit trail (compliance-audit.js). Anyone else is told
// plainly that the page is not for them; the server refuses them these endpoints anyway.

import "./nav.js";
import { wireAudit } from "./compliance-audit.js";
import { chooseTargets, wireErase } from "./compliance-erase.js";
import { loadCollectionNames, wireFind } from "./compliance-find.js";
import { loadErasures, loadPublicKey, wireRecords } from "./compliance-records.js";
import { $ } from "./dom.js";
import { loadMe } from "./session.js";

const OFFICER = "compliance_officer";

async function main() {
  let me;
  try {
    me = await loadMe();
  } catch {
    return; // send() says the session ended
  }
  $("page-loading").hidden = true;
  if (!me.global_roles.includes(OFFICER)) {
    $("no-access").hidden = false;
    return;
  }
  $("compliance").hidden = false;
  wireFind(chooseTargets);
  wireErase();
  wireRecords();
  wireAudit();
  $("page-h").focus();
  await loadCollectionNames([$("meta-collection"), $("audit-collection")]);
  loadErasures();
  loadPublicKey();
}

main();
