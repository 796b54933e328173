pub mod fwctrl;
