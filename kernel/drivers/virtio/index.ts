// kernel/drivers/virtio — the virtio drivers: transports (transport/), the split virtqueue
// (queue.ts), one file per device; probe.ts finds and starts the devices.
// The public face: other subsystems import from here, not from the files.
export {
  ensureVirtio, probeVirtio, virtioDeviceList, virtioDevices, blkDevice, blkCount, netDevice, netCount,
  serviceVirtio, shutdownVirtio,
} from "./probe";
export { VirtioDevice, VirtioDeviceInfo, VirtioIrq } from "./device";
export {
  VirtioBlk, BlkRequest, BlkCallback, blkErrorName, SECTOR_SIZE, BLK_READ, BLK_WRITE, BLK_FLUSH,
  BLK_OK, BLK_PENDING, BLK_ERR_IO, BLK_ERR_UNSUPPORTED, BLK_ERR_RANGE, BLK_ERR_READ_ONLY, BLK_ERR_BUSY,
  BLK_ERR_ARG, BLK_ERR_TIMEOUT, BLK_ERR_DEVICE,
} from "./blk";
export { VirtioNet, VirtioNetIf, macString } from "./net";
export { VirtioRng } from "./rng";
export { VirtioConsole, SerialPort, SerialPortHandler, onSerialPort } from "./console";
export { SplitQueue } from "./queue";
export { Transport } from "./transport/transport";
export { MmioTransport, parseMmioSlot } from "./transport/mmio";
export { PciTransport } from "./transport/pci";
