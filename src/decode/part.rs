//! Text that is a slice of other text: a section and a path are usually cut from their request
//! target, and a section from the start of its path, so whoever keeps them can keep the longer
//! one and the others as ranges of it, without a copy each.

use std::ops::Range;

/// Where `part` lies in `whole` when it is a slice of it. Told by address, not by content: a
/// part found is exactly `&whole[range]`, and text that merely reads the same is not one.
pub fn part_of(part: &str, whole: &str) -> Option<Range<usize>> {
    let offset = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    let end = offset.checked_add(part.len())?;
    (end <= whole.len()).then_some(offset..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_found_where_they_are_and_copies_are_not() {
        let whole = String::from("/users/7?tab=1");
        for start in 0..=whole.len() {
            for end in start..=whole.len() {
                assert_eq!(part_of(&whole[start..end], &whole), Some(start..end));
            }
        }
        let copy = String::from("/users");
        assert_eq!(part_of(&copy, &whole), None);
        // A slice running past the end of `whole`, or starting before it.
        let longer = String::from("/users/7?tab=1 and more");
        let shorter = &longer[..14];
        assert_eq!(part_of(&longer, shorter), None);
        assert_eq!(part_of(&longer[..15], shorter), None);
        assert_eq!(part_of(&longer[..3], &longer[1..14]), None);
        assert_eq!(part_of(&longer[2..5], &longer[1..14]), Some(1..4));
    }
}
