//! A selected row as both backends read it: typed columns by position, so
//! that what a row means ([`super::record`]) is written once while each
//! backend keeps its own SQL and driver. Each backend implements
//! [`Columns`] for its driver's row with [`columns_for!`].

/// The typed columns of a row, by position; the error is the driver's.
pub(crate) trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn real(&self, i: usize) -> Result<f64, Self::Error>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}

/// Implements [`Columns`] for a driver's row type `$row`, whose method
/// `$get` reads a column as any type the driver converts to.
macro_rules! columns_for {
    ($row:ty, $err:ty, $get:ident) => {
        impl $crate::queue::store::row::Columns for $row {
            type Error = $err;
            fn int(&self, i: usize) -> Result<i64, $err> {
                self.$get(i)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, $err> {
                self.$get(i)
            }
            fn real(&self, i: usize) -> Result<f64, $err> {
                self.$get(i)
            }
            fn opt_real(&self, i: usize) -> Result<Option<f64>, $err> {
                self.$get(i)
            }
            fn text(&self, i: usize) -> Result<String, $err> {
                self.$get(i)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>, $err> {
                self.$get(i)
            }
            fn flag(&self, i: usize) -> Result<bool, $err> {
                self.$get(i)
            }
        }
    };
}
pub(crate) use columns_for;
