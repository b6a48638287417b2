//! [`Ownership`]: whether a relation's user is the only one using a database (it then
//! owns the objects in it, so nothing changes owner between its sessions) or shares the
//! database with other relations' users (objects stay with their creators and the others
//! get access). PostgreSQL's statement plans use it; the engines' `UserAdmin` carries it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    Sole,
    Shared,
}
