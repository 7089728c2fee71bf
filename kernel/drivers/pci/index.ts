// kernel/drivers/pci — PCI configuration space (ECAM or ports 0xCF8/0xCFC), bus
// enumeration, BARs, capabilities and MSI-X tables (bus.ts).
// The public face: other subsystems import from here, not from the files.
export {
  PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_COMMAND, PCI_STATUS, PCI_CLASS_REVISION, PCI_HEADER_TYPE, PCI_BAR0,
  PCI_SECONDARY_BUS, PCI_SUBSYSTEM_ID, PCI_CAP_PTR, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, CMD_IO,
  CMD_MEMORY, CMD_BUS_MASTER, CMD_INTX_DISABLE, CAP_MSI, CAP_VENDOR, CAP_MSIX, useEcam, pciConfigAccess,
  configRead32, configRead16, configRead8, configWrite32, configWrite16, Bar, PciDevice, pciDevices, MsiX,
} from "./bus";
