"""Sample texts for the answer-trust tests, as the parser yields them (blocks joined by a blank
line, table rows with " | "): the pump manual and the infection handbook from `samples/`
(`ingestion.parsers.parse`), and a valve manual written for issue 13's example."""

from serving.protocols import Source

PUMP = (
    "XJ-220 Infusion Pump — Maintenance Manual\n"
    "\n"
    "This manual describes preventive maintenance of the XJ-220 volumetric infusion "
    "pump used on general wards. Only biomedical engineering staff certified for the "
    "XJ series may open the housing.\n"
    "\n"
    "1. Maintenance intervals\n"
    "\n"
    "Every XJ-220 pump is inspected every six months and after any drop from a height"
    " above one metre. The occlusion sensor is calibrated once a year. Pumps that "
    "fail the annual occlusion test are tagged red and withdrawn from service until "
    "repaired.\n"
    "\n"
    "2. Torque values\n"
    "\n"
    "Use a calibrated torque driver. Over-tightening the door hinge screws cracks the"
    " housing.\n"
    "\n"
    "Fastener | Part number | Torque\n"
    "Door hinge screws | XJ-220-HS4 | 0.6 N·m\n"
    "Pole clamp bolt | XJ-220-PC1 | 4.5 N·m\n"
    "Battery cover screws | XJ-220-BC2 | 0.4 N·m\n"
    "Motor mounting bolts | XJ-220-MM3 | 2.2 N·m\n"
    "\n"
    "3. Replacing the battery\n"
    "\n"
    "Switch the pump off and disconnect mains power.\n"
    "\n"
    "Remove the four battery cover screws (XJ-220-BC2).\n"
    "\n"
    "Unplug the old battery pack and fit the new one (part XJ-BAT-7).\n"
    "\n"
    "Refit the cover and tighten the screws to 0.4 N·m.\n"
    "\n"
    "Run the self-test; the display must show code E00.\n"
    "\n"
    "Exception: pumps with serial numbers below 22-04000 use the older battery pack "
    "XJ-BAT-5, which is not interchangeable. Order the adapter kit XJ-AK-1 before "
    "starting.\n"
    "\n"
    "4. Error codes\n"
    "\n"
    "E00 means the self-test passed. E14 indicates an upstream occlusion: check the "
    "giving set and the roller clamp. E31 indicates a failed battery; replace the "
    "battery pack as described in section 3. E77 is a motor stall and requires the "
    "pump to be returned to the manufacturer."
)

INFECTION = (
    "Infection Prevention and Control Handbook\n"
    "\n"
    "Version 3.2 — approved by the Infection Prevention Committee.\n"
    "\n"
    "Hand hygiene\n"
    "\n"
    "Staff perform hand hygiene at the five moments: before touching a patient, "
    "before a clean or aseptic procedure, after body fluid exposure risk, after "
    "touching a patient, and after touching patient surroundings. Alcohol-based hand "
    "rub is used for at least 20 seconds. Soap and water are required instead of hand"
    " rub when hands are visibly soiled and when caring for patients with "
    "Clostridioides difficile infection, because alcohol does not kill its spores.\n"
    "\n"
    "Isolation precautions\n"
    "\n"
    "Contact precautions\n"
    "\n"
    "Patients colonised or infected with MRSA, VRE or carbapenem-resistant organisms "
    "are placed in a single room with contact precautions. Staff wear a gown and "
    "gloves on entering the room and remove them before leaving. Dedicated equipment "
    "(stethoscope, thermometer, blood pressure cuff) stays in the room.\n"
    "\n"
    "Droplet precautions\n"
    "\n"
    "Influenza and pertussis require droplet precautions: a surgical mask within one "
    "metre of the patient, and a single room or cohorting with patients who have the "
    "same infection.\n"
    "\n"
    "Airborne precautions\n"
    "\n"
    "Suspected or confirmed pulmonary tuberculosis, measles and chickenpox require an"
    " airborne infection isolation room with negative pressure and at least 12 air "
    "changes per hour. Staff wear a fit-tested FFP3 respirator. The door stays "
    "closed.\n"
    "\n"
    "Sharps injuries\n"
    "\n"
    "After a needlestick or sharps injury: encourage bleeding, wash with soap and "
    "running water, do not scrub or suck the wound, and report to Occupational Health"
    " within one hour. Post-exposure prophylaxis for HIV, when indicated, should "
    "start within 72 hours and ideally within 2 hours.\n"
    "\n"
    "Environmental cleaning\n"
    "\n"
    "Rooms of patients with C. difficile are cleaned daily and at discharge with a "
    "chlorine-based agent at 1,000 ppm available chlorine. Other isolation rooms are "
    "cleaned with detergent followed by a disinfectant approved by the committee."
)

VALVE = (
    "XV Series Valves — Operating Manual\n"
    "\n"
    "1. Pressure ratings\n"
    "\n"
    "The XV series comprises the XJ-110, XJ-220 and XJ-330 valves. The XJ-220 is the "
    "only model in the series approved for continuous operation at 40 bar. The other "
    "models may be run at 40 bar for at most 15 minutes per hour.\n"
    "\n"
    "Model | Continuous rating | Peak pressure rating | Body\n"
    "XJ-110 | 25 bar | 32 bar | brass\n"
    "XJ-220 | 40 bar | 64 bar | stainless steel 1.4408\n"
    "XJ-330 | 25 bar | 40 bar | ductile iron\n"
    "\n"
    "2. Actuator torque\n"
    "\n"
    "Tighten the bonnet bolts crosswise to 78 N·m. Above 60 °C, reduce the torque to "
    "65 N·m and recheck after 24 hours."
)

KEY_SENTENCE = (
    "The XJ-220 is the only model in the series approved for continuous operation at 40 bar."
)


def numbered(*texts: str) -> list[Source]:
    """`texts` as the numbered sources [1..n] an answer is given."""
    return [
        Source(
            number=i, chunk_id=f"c{i}", document=f"d{i}", title="", section="", page=None, text=t
        )
        for i, t in enumerate(texts, start=1)
    ]


SOURCES = numbered(VALVE, PUMP, INFECTION)
