//! Settings of the pages: the site's name and footer. The association administrator
//! can override each of them at `/staff/site`; these are the defaults.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CERTFLOW_SITE_NAME` | 特种设备作业人员继续教育平台 | name in the header and titles |
//! | `CERTFLOW_ICP_FILING` | unset | ICP filing number (ICP备案号) shown in the footer |
//! | `CERTFLOW_SITE_CONTACT` | unset | contact line in the footer (phone, address) |

/// The footer and name of the site, the same for every page.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct WebConfig {
    /// `None` shows the catalogue's default name.
    pub site_name: Option<String>,
    pub icp_filing: Option<String>,
    pub contact: Option<String>,
}

impl WebConfig {
    /// Reads the settings from the environment; unset or blank variables stay `None`.
    pub fn from_env() -> WebConfig {
        let var = |name: &str| std::env::var(name).ok().map(|value| value.trim().to_string()).filter(|value| !value.is_empty());
        WebConfig { site_name: var("CERTFLOW_SITE_NAME"), icp_filing: var("CERTFLOW_ICP_FILING"), contact: var("CERTFLOW_SITE_CONTACT") }
    }

    /// Returns these settings with each value that `stored` (the body of
    /// `GET /api/site/footer`) contains in place of the default.
    pub fn overridden_by(&self, stored: &serde_json::Value) -> WebConfig {
        let pick = |name: &str, default: &Option<String>| stored[name].as_str().map(str::to_string).or_else(|| default.clone());
        WebConfig {
            site_name: pick("site_name", &self.site_name),
            icp_filing: pick("icp_filing", &self.icp_filing),
            contact: pick("contact", &self.contact),
        }
    }
}
