//! The supervisors' board (`GET /sla`): open tickets by how much of their SLA they have used,
//! in the tiers the escalation alerts use (under 50 %, 50 %, 75 %, breached), overall, per
//! resolver group and per specialist. Pure: the caller gives each ticket's time used.

use super::catalog::Catalog;
use super::directory::Directory;
use super::sla::THRESHOLDS;
use std::collections::BTreeMap;

/// Where a ticket stands against its target; the alert thresholds are the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Under50,
    From50,
    From75,
    Breached,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Under50, Tier::From50, Tier::From75, Tier::Breached];

    /// A ticket without a target (no service yet) has no clock to breach: it counts as under
    /// 50 %, as the queue shows it.
    pub fn of(used_secs: i64, target_secs: i64) -> Tier {
        if target_secs <= 0 {
            return Tier::Under50;
        }
        // Percent of the target as integer arithmetic on the same bounds the alerts use.
        let reached = |pct: u8| used_secs * 100 >= target_secs * i64::from(pct);
        if reached(THRESHOLDS[2]) {
            Tier::Breached
        } else if reached(THRESHOLDS[1]) {
            Tier::From75
        } else if reached(THRESHOLDS[0]) {
            Tier::From50
        } else {
            Tier::Under50
        }
    }

    /// Spanish column heading (a no-break space keeps "%" by its number in a narrow column).
    pub fn label(self) -> &'static str {
        match self {
            Tier::Under50 => "Menos del 50\u{a0}%",
            Tier::From50 => "Desde el 50\u{a0}%",
            Tier::From75 => "Desde el 75\u{a0}%",
            Tier::Breached => "Vencidas",
        }
    }
}

/// One open ticket, as the board needs it.
#[derive(Debug, Clone)]
pub struct OpenTicket<'a> {
    pub assignee: Option<&'a str>,
    pub service: Option<&'a str>,
    pub used_secs: i64,
    pub target_secs: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Indexed like [`Tier::ALL`].
    pub by_tier: [usize; 4],
}

impl Counts {
    fn add(&mut self, tier: Tier) {
        self.by_tier[tier as usize] += 1;
    }

    pub fn total(&self) -> usize {
        self.by_tier.iter().sum()
    }

    pub fn get(&self, tier: Tier) -> usize {
        self.by_tier[tier as usize]
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    pub overall: Counts,
    /// By group name, in name order; tickets of no group under [`NO_GROUP`].
    pub groups: Vec<(String, Counts)>,
    /// By specialist name, in name order; tickets nobody took under [`UNASSIGNED`].
    pub specialists: Vec<(String, Counts)>,
}

/// The agents' own pool: a service without a resolver group goes to them.
pub const NO_GROUP: &str = "Agentes de soporte (sin grupo)";
pub const UNASSIGNED: &str = "Sin asignar";

/// The ticket's resolver group: the group it is assigned to, else its service's group, else
/// none (the agents).
fn group_name(t: &OpenTicket, directory: &Directory, catalog: &Catalog) -> String {
    let assigned = t
        .assignee
        .filter(|a| !a.contains('@'))
        .and_then(|a| directory.group(a));
    let of_service = || {
        let code = catalog.by_code_or_name(t.service?)?.group.as_deref()?;
        directory.group(code)
    };
    assigned
        .or_else(of_service)
        .map(|g| g.name.clone())
        .unwrap_or_else(|| NO_GROUP.to_owned())
}

/// The person working it: a directory person by name, an address the directory does not know
/// as itself; a ticket assigned to a whole group has no specialist yet.
fn specialist_name(t: &OpenTicket, directory: &Directory) -> String {
    match t.assignee.filter(|a| a.contains('@')) {
        Some(a) => directory.name_or(a, a),
        None => UNASSIGNED.to_owned(),
    }
}

pub fn board(tickets: &[OpenTicket], directory: &Directory, catalog: &Catalog) -> Board {
    let mut overall = Counts::default();
    let mut groups: BTreeMap<String, Counts> = BTreeMap::new();
    let mut specialists: BTreeMap<String, Counts> = BTreeMap::new();
    for t in tickets {
        let tier = Tier::of(t.used_secs, t.target_secs);
        overall.add(tier);
        groups
            .entry(group_name(t, directory, catalog))
            .or_default()
            .add(tier);
        specialists
            .entry(specialist_name(t, directory))
            .or_default()
            .add(tier);
    }
    Board {
        overall,
        groups: groups.into_iter().collect(),
        specialists: specialists.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shipped() -> (Directory, Catalog) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
        (
            Directory::load(&root.join("directory.toml")).unwrap(),
            Catalog::load(&root.join("catalog.toml")).unwrap(),
        )
    }

    #[test]
    fn tiers_start_at_the_alert_thresholds() {
        let h = 3600;
        assert_eq!(Tier::of(0, 8 * h), Tier::Under50);
        assert_eq!(Tier::of(4 * h - 1, 8 * h), Tier::Under50);
        assert_eq!(Tier::of(4 * h, 8 * h), Tier::From50);
        assert_eq!(Tier::of(6 * h - 1, 8 * h), Tier::From50);
        assert_eq!(Tier::of(6 * h, 8 * h), Tier::From75);
        assert_eq!(Tier::of(8 * h - 1, 8 * h), Tier::From75);
        assert_eq!(Tier::of(8 * h, 8 * h), Tier::Breached);
        assert_eq!(Tier::of(80 * h, 8 * h), Tier::Breached);
        assert_eq!(Tier::of(80 * h, 0), Tier::Under50);
    }

    #[test]
    fn tickets_are_counted_per_group_and_per_specialist() {
        let (dir, cat) = shipped();
        let t = |assignee, service, used| OpenTicket {
            assignee,
            service,
            used_secs: used,
            target_secs: 100,
        };
        let tickets = [
            // PRESTAMO-PORTATIL goes to soporte-sitio; Miguel is its specialist.
            t(
                Some("miguel.torres@example.test"),
                Some("PRESTAMO-PORTATIL"),
                10,
            ),
            t(
                Some("miguel.torres@example.test"),
                Some("PRESTAMO-PORTATIL"),
                120,
            ),
            t(Some("soporte-sitio"), None, 60),
            t(None, Some("VPN"), 80),
            t(Some("otro@example.test"), Some("VPN"), 100),
        ];
        let b = board(&tickets, &dir, &cat);
        assert_eq!(b.overall.by_tier, [1, 1, 1, 2]);
        assert_eq!(b.overall.total(), 5);
        let site = dir.group("soporte-sitio").unwrap().name.clone();
        let group = |name: &str| b.groups.iter().find(|(g, _)| g == name).unwrap().1;
        assert_eq!(group(&site).by_tier, [1, 1, 0, 1]);
        assert_eq!(group(NO_GROUP).by_tier, [0, 0, 1, 1]);
        let person = |name: &str| b.specialists.iter().find(|(p, _)| p == name).unwrap().1;
        let miguel = dir
            .person("miguel.torres@example.test")
            .unwrap()
            .name
            .clone();
        assert_eq!(person(&miguel).by_tier, [1, 0, 0, 1]);
        assert_eq!(person(UNASSIGNED).by_tier, [0, 1, 1, 0]);
        assert_eq!(person("otro@example.test").by_tier, [0, 0, 0, 1]);
    }
}
