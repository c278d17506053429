//! Identifiers made offline without coordination: UUIDv7 (time-ordered, 74 random bits), so
//! ids from different devices never collide and sort by creation time.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let ids: Vec<String> = (0..10_000).map(|_| new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "UUIDv7 strings sort in creation order");
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
    }
}
