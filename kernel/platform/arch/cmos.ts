// kernel/platform/arch/cmos.ts — the MC146818 real-time clock in CMOS: the date at boot,
// for wall-clock time. Registers: seconds 0x00, minutes 0x02, hours 0x04, day
// 0x07, month 0x08, year 0x09, century 0x32 (ACPI FADT default); status A bit 7
// = update in progress, status B bit 2 = binary (else BCD), bit 1 = 24-hour.
import { inb, outb } from "..";

const CMOS_INDEX: u32 = 0x70;
const CMOS_DATA: u32 = 0x71;
const NMI_DISABLE: u32 = 0x80;

export const RTC_REG_A: u32 = 0x0a;
export const RTC_REG_B: u32 = 0x0b;
export const RTC_REG_C: u32 = 0x0c;

export function cmosRead(reg: u32): u32 {
  outb(CMOS_INDEX, NMI_DISABLE | reg);
  return inb(CMOS_DATA);
}

export function cmosWrite(reg: u32, v: u32): void {
  outb(CMOS_INDEX, NMI_DISABLE | reg);
  outb(CMOS_DATA, v);
}

function bcd(v: u32): u32 {
  return (v & 0x0f) + (v >> 4) * 10;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 *  days_from_civil). */
export function daysFromCivil(y: i64, m: u32, d: u32): i64 {
  const yy = m <= 2 ? y - 1 : y;
  const era = (yy >= 0 ? yy : yy - 399) / 400;
  const yoe = yy - era * 400;
  const mp = <i64>(m > 2 ? m - 3 : m + 9);
  const doy = (153 * mp + 2) / 5 + <i64>d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

function readRaw(out: StaticArray<u32>): void {
  out[0] = cmosRead(0x00);
  out[1] = cmosRead(0x02);
  out[2] = cmosRead(0x04);
  out[3] = cmosRead(0x07);
  out[4] = cmosRead(0x08);
  out[5] = cmosRead(0x09);
  out[6] = cmosRead(0x32);
}

/** Seconds since the Unix epoch from the RTC, or -1 when there is no RTC or
 *  it reads nonsense (all ones: no device; out-of-range fields). */
export function rtcEpochSeconds(): i64 {
  const a = new StaticArray<u32>(7);
  const b = new StaticArray<u32>(7);
  // Read twice until two reads agree, outside an update cycle.
  let tries = 0;
  do {
    let spin = 0;
    while ((cmosRead(RTC_REG_A) & 0x80) != 0 && spin < 100000) spin++;
    readRaw(a);
    readRaw(b);
    let same = true;
    for (let i = 0; i < 7; i++) if (a[i] != b[i]) same = false;
    if (same) break;
  } while (++tries < 5);
  const regB = cmosRead(RTC_REG_B);
  if (regB == 0xff && a[0] == 0xff) return -1;
  const binary = (regB & 0x04) != 0;
  const h24 = (regB & 0x02) != 0;
  let sec = a[0], min = a[1], hour = a[2] & 0x7f, day = a[3], mon = a[4], yr = a[5], cent = a[6];
  const pm = (a[2] & 0x80) != 0;
  if (!binary) {
    sec = bcd(sec); min = bcd(min); hour = bcd(hour); day = bcd(day); mon = bcd(mon); yr = bcd(yr); cent = bcd(cent);
  }
  if (!h24) {
    if (hour == 12) hour = 0;
    if (pm) hour += 12;
  }
  if (sec > 59 || min > 59 || hour > 23 || day < 1 || day > 31 || mon < 1 || mon > 12 || yr > 99) return -1;
  const century: i64 = cent >= 19 && cent <= 30 ? <i64>cent : 20;
  const year = century * 100 + <i64>yr;
  return daysFromCivil(year, mon, day) * 86400 + <i64>hour * 3600 + <i64>min * 60 + <i64>sec;
}
