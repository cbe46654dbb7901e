//! Certificate data served by `GET /v1/certificates`: seeded from a JSON file, or derived
//! deterministically from the id number when the file has no entry for it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use chrono::{Months, NaiveDate};
use sha2::{Digest, Sha256};

use crate::provincial::wire::Certificate;

/// Sample work item codes used for synthetic certificates: Q2 crane driver, N1 forklift
/// driver, G1 industrial boiler operator, R1 quick-opening pressure vessel operator,
/// T elevator repair.
const SYNTHETIC_ITEM_CODES: [&str; 5] = ["Q2", "N1", "G1", "R1", "T"];

/// Validity of a synthetic certificate.
const SYNTHETIC_VALIDITY: Months = Months::new(48);

pub struct CertificateSource {
    /// Certificates by id number, from the seed file.
    seeded: HashMap<String, Vec<Certificate>>,
}

impl CertificateSource {
    /// Loads a seed file shaped `{ "<id_number>": [ {certificate}, ... ], ... }`, or
    /// starts empty without one.
    pub fn load(seed_file: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = seed_file else {
            return Ok(Self {
                seeded: HashMap::new(),
            });
        };
        let content = std::fs::read(path)
            .with_context(|| format!("failed to read certificate seed file {}", path.display()))?;
        let seeded = serde_json::from_slice(&content).with_context(|| {
            format!(
                "certificate seed file {} is not an object of id number to certificate list",
                path.display()
            )
        })?;
        Ok(Self { seeded })
    }

    pub fn seeded_len(&self) -> usize {
        self.seeded.len()
    }

    /// Returns the seeded certificates of `id_number`, or synthetic ones when it is not seeded.
    pub fn lookup(&self, id_number: &str) -> Vec<Certificate> {
        match self.seeded.get(id_number) {
            Some(certificates) => certificates.clone(),
            None => synthetic_certificates(id_number),
        }
    }
}

/// Derives zero to two certificates from the SHA-256 of the id number, so that the same
/// id number always gets the same certificates.
pub fn synthetic_certificates(id_number: &str) -> Vec<Certificate> {
    let hash = Sha256::digest(id_number.as_bytes());
    let count = usize::from(hash[0] % 3);

    (0..count)
        .map(|index| {
            // Consecutive item codes, so that one operator never gets the same item twice.
            let item_code =
                SYNTHETIC_ITEM_CODES[(usize::from(hash[1]) + index) % SYNTHETIC_ITEM_CODES.len()];
            let year = 2018 + i32::from(hash[2 + index] % 7);
            let month = 1 + u32::from(hash[4 + index] % 12);
            let day = 1 + u32::from(hash[6 + index] % 28);
            let issued_on = NaiveDate::from_ymd_opt(year, month, day)
                .expect("day 1..=28 exists in every month");
            let expires_on = issued_on + SYNTHETIC_VALIDITY;

            Certificate {
                item_code: item_code.to_owned(),
                certificate_no: format!(
                    "SIM-{item_code}-{}",
                    hex::encode_upper(&hash[8 + 4 * index..12 + 4 * index])
                ),
                issued_on,
                expires_on,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_certificates_are_deterministic() {
        for index in 0..50 {
            let id_number = format!("11010519900101{index:04}");
            let first = synthetic_certificates(&id_number);
            assert_eq!(first, synthetic_certificates(&id_number));
            assert!(first.len() <= 2);
            for certificate in &first {
                assert!(certificate.expires_on > certificate.issued_on);
                assert!(
                    certificate
                        .certificate_no
                        .starts_with(&format!("SIM-{}-", certificate.item_code))
                );
            }
            if first.len() == 2 {
                assert_ne!(first[0].item_code, first[1].item_code);
            }
        }
    }

    #[test]
    fn synthetic_certificates_vary_in_count() {
        let counts: std::collections::HashSet<usize> = (0..50)
            .map(|index| synthetic_certificates(&format!("id-{index}")).len())
            .collect();
        assert_eq!(
            counts.len(),
            3,
            "expected 0, 1 and 2 certificates among 50 ids, got {counts:?}"
        );
    }
}
