//! What the engines share about server settings: a change is each setting's value before
//! and after (`None`: the server's own default), applied live where the server can.

use std::collections::BTreeMap;

pub type SettingChanges = BTreeMap<String, (Option<String>, Option<String>)>;
