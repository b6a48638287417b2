//! Juju's life cycle of an entity (model, application, unit, relation): `alive` until
//! its removal is asked for, `dying` while its last hooks run, `dead` when they are done.
//! The store keeps the word; everything else compares this enum.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Life {
    #[default]
    Alive,
    Dying,
    Dead,
}

impl Life {
    /// The word Juju shows and the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Life::Alive => "alive",
            Life::Dying => "dying",
            Life::Dead => "dead",
        }
    }

    /// Reads a stored word; an unknown word is `dead` (the entity is treated as gone
    /// rather than revived).
    pub fn parse(word: &str) -> Life {
        match word {
            "alive" => Life::Alive,
            "dying" => Life::Dying,
            _ => Life::Dead,
        }
    }

    pub fn is_alive(self) -> bool {
        self == Life::Alive
    }
}

impl std::fmt::Display for Life {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_ones_are_dead() {
        for life in [Life::Alive, Life::Dying, Life::Dead] {
            assert_eq!(Life::parse(life.as_str()), life);
            assert_eq!(serde_json::to_string(&life).unwrap(), format!("\"{life}\""));
        }
        assert_eq!(Life::parse("zombie"), Life::Dead);
        assert!(Life::Alive.is_alive() && !Life::Dying.is_alive());
    }
}
