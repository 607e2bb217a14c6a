// The case's DICOM viewer (Cornerstone3D), a Streamlit component.
//
// Files come from the permission-checked, audited route /files/<id>?view=1 on the same
// origin (the HttpOnly session cookie goes with each request); nothing of a patient comes
// from /media. Images are decoded here at native resolution and bit depth.
import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  imageLoader,
  init as coreInit,
  metaData,
  utilities,
} from "@cornerstonejs/core";
import { init as loaderInit } from "@cornerstonejs/dicom-image-loader";
import * as tools from "@cornerstonejs/tools";

import { onRender, setFrameHeight } from "./streamlit.js";
import { SyncChannel } from "./sync.js";

const {
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ZoomTool,
  StackScrollTool,
  LengthTool,
  EllipticalROITool,
  RectangleROITool,
  annotation,
} = tools;
const { MouseBindings } = tools.Enums;

export const PRESETS = [
  { id: "fichier", label: "Fichier" },
  { id: "tissus", label: "Tissus mous", center: 40, width: 400 },
  { id: "rein", label: "Rein", center: 50, width: 350 },
  { id: "os", label: "Os", center: 500, width: 2000 },
  { id: "poumon", label: "Poumon", center: -600, width: 1500 },
];

const LEFT_TOOLS = [
  { name: WindowLevelTool.toolName, label: "Fenêtrage", title: "Glisser : niveau (vertical) et largeur (horizontal)" },
  { name: PanTool.toolName, label: "Déplacer", title: "Glisser pour déplacer l'image (aussi : bouton du milieu)" },
  { name: ZoomTool.toolName, label: "Zoom", title: "Glisser pour zoomer (aussi : bouton droit)" },
  { name: LengthTool.toolName, label: "Distance", title: "Mesurer une distance" },
  { name: EllipticalROITool.toolName, label: "Ellipse", title: "Surface, moyenne et écart-type" },
  { name: RectangleROITool.toolName, label: "Rectangle", title: "Surface, moyenne et écart-type" },
];
const MEASURE_TOOLS = [LengthTool.toolName, EllipticalROITool.toolName, RectangleROITool.toolName];

const ENGINE_ID = "rcp-engine";
const GROUP_ID = "rcp-tools";
const fmt = (value, digits = 1) =>
  Number(value).toLocaleString("fr-FR", { minimumFractionDigits: digits, maximumFractionDigits: digits });

// ---------------------------------------------------------------------------------------------
// Calibration: Pixel Spacing (patient plane), else Imager Pixel Spacing (detector plane, the
// magnification not corrected), else none (measurements in pixels). Stated on every measure.

function tagsOf(imageId) {
  return metaData.get("naturalized", imageId) || {};
}

function spacing(value) {
  const values = Array.isArray(value) ? value.map(Number) : typeof value === "number" ? [value, value] : null;
  return values && values.length >= 2 && values.every((v) => Number.isFinite(v) && v > 0) ? values : null;
}

function planeSpacing(tags) {
  const shared = tags.SharedFunctionalGroupsSequence && tags.SharedFunctionalGroupsSequence[0];
  const measures = shared && shared.PixelMeasuresSequence && shared.PixelMeasuresSequence[0];
  return spacing(tags.PixelSpacing) || (measures ? spacing(measures.PixelSpacing) : null);
}

export function calibrationOf(imageId) {
  const tags = tagsOf(imageId);
  const plane = planeSpacing(tags);
  if (plane) return { kind: "patient", spacing: plane, text: `Pixel Spacing ${fmt(plane[0], 3)} × ${fmt(plane[1], 3)} mm` };
  const imager = spacing(tags.ImagerPixelSpacing);
  if (imager) return { kind: "detector", spacing: imager, text: `Imager Pixel Spacing ${fmt(imager[0], 3)} mm (au détecteur)` };
  return { kind: "none", spacing: null, text: "aucune, mesures en pixels" };
}

// Projection radiographs carry only Imager Pixel Spacing: measure in mm at the detector.
metaData.addProvider((type, imageId) => {
  if (type !== "imagePlaneModule" || !imageId.startsWith("wadouri:")) return undefined;
  const tags = metaData.get("naturalized", imageId);
  if (!tags || planeSpacing(tags)) return undefined;
  const imager = spacing(tags.ImagerPixelSpacing);
  if (!imager) return undefined;
  return {
    frameOfReferenceUID: tags.FrameOfReferenceUID,
    rows: tags.Rows,
    columns: tags.Columns,
    imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    rowCosines: [1, 0, 0],
    columnCosines: [0, 1, 0],
    imagePositionPatient: [0, 0, 0],
    sliceThickness: tags.SliceThickness,
    pixelSpacing: imager,
    rowPixelSpacing: imager[0],
    columnPixelSpacing: imager[1],
    usingDefaultValues: false,
  };
}, 10000);

function unitText(unit) {
  return unit === "mm²" || unit === "mm" ? unit : unit === "px²" || unit === "px" ? unit : unit || "";
}

function calibrationNote(targetId) {
  // Measured at the detector (projection radiograph): say so next to the value.
  const imageId = String(targetId || "").replace(/^imageId:/, "");
  return imageId && calibrationOf(imageId).kind === "detector" ? " (au détecteur)" : "";
}

function lengthLines(data, targetId) {
  const stats = data.cachedStats && data.cachedStats[targetId];
  if (!stats || !Number.isFinite(stats.length)) return undefined;
  return [`${fmt(stats.length)} ${unitText(stats.unit)}${calibrationNote(targetId)}`];
}

function roiLines(data, targetId) {
  const stats = data.cachedStats && data.cachedStats[targetId];
  if (!stats) return undefined;
  const lines = [];
  if (Number.isFinite(stats.area)) lines.push(`Surface : ${fmt(stats.area)} ${unitText(stats.areaUnit)}${calibrationNote(targetId)}`);
  const unit = stats.modalityUnit === "HU" ? "UH" : stats.modalityUnit || "";
  if (Number.isFinite(stats.mean)) lines.push(`Moyenne : ${fmt(stats.mean)} ${unit}`);
  if (Number.isFinite(stats.stdDev)) lines.push(`Écart-type : ${fmt(stats.stdDev)} ${unit}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------

let ready = null;

async function setup() {
  await coreInit();
  loaderInit({
    maxWebWorkers: Math.max(1, Math.min(2, (navigator.hardwareConcurrency || 2) - 1)),
    decodeConfig: { wasmBasePath: new URL("codecs/", document.baseURI).toString() },
  });
  tools.init();
  for (const Tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, EllipticalROITool, RectangleROITool]) {
    tools.addTool(Tool);
  }
  const group = ToolGroupManager.createToolGroup(GROUP_ID);
  group.addTool(WindowLevelTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName, { minZoomScale: 0.05, maxZoomScale: 40 });
  group.addTool(StackScrollTool.toolName, { loop: false });
  group.addTool(LengthTool.toolName, { getTextLines: lengthLines });
  group.addTool(EllipticalROITool.toolName, { getTextLines: roiLines, centerPointRadius: 0 });
  group.addTool(RectangleROITool.toolName, { getTextLines: roiLines });
  for (const name of MEASURE_TOOLS) group.setToolPassive(name);
  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  return { engine: new RenderingEngine(ENGINE_ID), group };
}

function imageIdsOf(series) {
  const ids = [];
  for (const [attachmentId, frames] of series.images) {
    const url = `${location.origin}/files/${attachmentId}?view=1`;
    if (frames > 1) {
      for (let f = 1; f <= frames; f++) ids.push(`wadouri:${url}&frame=${f}`);
    } else {
      ids.push(`wadouri:${url}`);
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------

class Cell {
  constructor(viewer, index) {
    this.viewer = viewer;
    this.index = index;
    this.viewportId = `vp${index}`;
    this.root = document.createElement("div");
    this.root.className = "cell";
    this.root.dataset.cell = String(index);
    this.element = document.createElement("div");
    this.element.className = "viewport";
    this.element.tabIndex = 0;
    this.element.setAttribute("aria-label", "Image DICOM");
    this.element.oncontextmenu = (e) => e.preventDefault();
    this.root.appendChild(this.element);
    this.overlays = {};
    for (const corner of ["tl", "tr", "bl", "br", "center"]) {
      const div = document.createElement("div");
      div.className = `overlay ${corner}`;
      div.dataset.overlay = corner;
      this.root.appendChild(div);
      this.overlays[corner] = div;
    }
    this.series = null;
    this.imageIds = [];
    this.preset = "fichier";
    this.fileVoi = null;
    this.root.addEventListener("pointerdown", () => viewer.activate(this.index), true);
    this.element.addEventListener("keydown", (e) => this.onKey(e));
    for (const name of [Enums.Events.STACK_NEW_IMAGE, Enums.Events.VOI_MODIFIED, Enums.Events.CAMERA_MODIFIED, Enums.Events.IMAGE_RENDERED]) {
      this.element.addEventListener(name, () => this.scheduleOverlay());
    }
    this.element.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => viewer.changed());
    this.element.addEventListener(Enums.Events.VOI_MODIFIED, () => {
      // A drag (not a preset, not the presenter's view) makes the window manual.
      if (!this.settingPreset && !viewer.applying && this.series && this.fileVoi) {
        this.preset = "manuel";
        if (viewer.cell() === this) viewer.presetSelect.value = "manuel";
      }
      viewer.changed();
    });
    this.element.addEventListener(Enums.Events.CAMERA_MODIFIED, () => viewer.changed());
  }

  enable() {
    const { engine, group } = this.viewer.cs;
    engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element: this.element,
      defaultOptions: { background: [0, 0, 0] },
    });
    group.addViewport(this.viewportId, ENGINE_ID);
  }

  disable() {
    const { engine, group } = this.viewer.cs;
    this.stopCine();
    group.removeViewports(ENGINE_ID, this.viewportId);
    engine.disableElement(this.viewportId);
    this.series = null;
  }

  get viewport() {
    return this.viewer.cs.engine.getViewport(this.viewportId);
  }

  async show(series, { index } = {}) {
    this.stopCine();
    this.series = series;
    this.imageIds = imageIdsOf(series);
    this.preset = "fichier";
    this.fileVoi = null;
    if (this.viewer.cell() === this && this.viewer.presetSelect) this.viewer.presetSelect.value = "fichier";
    this.overlays.center.textContent = "Chargement…";
    const start = index ?? Math.floor((this.imageIds.length - 1) / 2);
    const t0 = performance.now();
    try {
      await this.viewport.setStack(this.imageIds, start);
    } catch (error) {
      this.overlays.center.textContent = "Cette image ne peut pas être affichée (fichier illisible par le navigateur).";
      this.viewer.say(`Série « ${series.label} » : image illisible.`);
      return;
    }
    this.fileVoi = { ...this.viewport.getProperties().voiRange };
    this.overlays.center.textContent = "";
    this.viewport.render();
    window.__rcpViewer.firstImageMs = window.__rcpViewer.firstImageMs ?? performance.now() - t0;
    tools.utilities.stackPrefetch.enable(this.element);
    this.scheduleOverlay();
    this.viewer.changed();
  }

  setPreset(id) {
    const vp = this.viewport;
    if (!vp || !this.series) return;
    this.preset = id;
    const preset = PRESETS.find((p) => p.id === id);
    this.settingPreset = true;
    try {
      if (id === "fichier" || !preset || preset.width === undefined) {
        if (this.fileVoi) vp.setProperties({ voiRange: { ...this.fileVoi } });
        else vp.resetProperties();
      } else {
        vp.setProperties({ voiRange: utilities.windowLevel.toLowHighRange(preset.width, preset.center) });
      }
    } finally {
      this.settingPreset = false;
    }
    vp.render();
  }

  toggleInvert() {
    const vp = this.viewport;
    if (!vp || !this.series) return;
    vp.setProperties({ invert: !vp.getProperties().invert });
    vp.render();
  }

  fit() {
    const vp = this.viewport;
    if (!vp || !this.series) return;
    vp.resetCamera();
    vp.render();
  }

  oneToOne() {
    // One image pixel on one screen pixel: half the viewport height in world units.
    const vp = this.viewport;
    if (!vp || !this.series) return;
    const image = vp.getImageData();
    const spacing = image ? image.spacing[1] : 1;
    const camera = vp.getCamera();
    vp.setCamera({ ...camera, parallelScale: (this.element.clientHeight / 2) * spacing });
    vp.render();
  }

  scroll(delta) {
    const vp = this.viewport;
    if (!vp || !this.series) return;
    const target = Math.min(this.imageIds.length - 1, Math.max(0, vp.getCurrentImageIdIndex() + delta));
    if (target !== vp.getCurrentImageIdIndex()) vp.setImageIdIndex(target);
  }

  goTo(index) {
    const vp = this.viewport;
    if (vp && this.series) vp.setImageIdIndex(Math.min(this.imageIds.length - 1, Math.max(0, index)));
  }

  onKey(event) {
    const moves = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
    if (event.key in moves) this.scroll(moves[event.key]);
    else if (event.key === "Home") this.goTo(0);
    else if (event.key === "End") this.goTo(this.imageIds.length - 1);
    else return;
    event.preventDefault();
  }

  playCine(fps) {
    if (!this.series || this.imageIds.length < 2) return;
    tools.utilities.cine.playClip(this.element, { framesPerSecond: fps, loop: true });
    this.playing = true;
  }

  stopCine() {
    if (this.playing) tools.utilities.cine.stopClip(this.element);
    this.playing = false;
  }

  scheduleOverlay() {
    if (this.overlayPending) return;
    this.overlayPending = true;
    requestAnimationFrame(() => {
      this.overlayPending = false;
      this.drawOverlay();
    });
  }

  drawOverlay() {
    const vp = this.viewport;
    if (!vp || !this.series) return;
    const imageId = vp.getCurrentImageId();
    if (!imageId) return;
    const index = vp.getCurrentImageIdIndex();
    const study = metaData.get("generalStudyModule", imageId) || {};
    const seriesMod = metaData.get("generalSeriesModule", imageId) || {};
    const plane = metaData.get("imagePlaneModule", imageId) || {};
    const tags = tagsOf(imageId);
    const birth = tags.PatientBirthDate;
    this.overlays.tl.textContent = [
      personName(tags.PatientName) || "Patient sans nom",
      birth ? `Né(e) le ${dicomDate(birth)}` : "",
      study.studyDate ? `Examen du ${dicomDate(study.studyDate)}` : "",
      study.studyDescription || "",
    ].filter(Boolean).join("\n");
    this.overlays.tr.textContent = [
      [seriesMod.modality, seriesMod.seriesNumber !== undefined ? `Série ${seriesMod.seriesNumber}` : ""].filter(Boolean).join(" · "),
      seriesMod.seriesDescription || this.series.description || "",
    ].filter(Boolean).join("\n");
    const position = tags.SliceLocation;
    const thickness = plane.sliceThickness;
    this.overlays.bl.textContent = [
      `Image ${index + 1} / ${this.imageIds.length}`,
      position ? `Position : ${fmt(Number(position))} mm` : plane.imagePositionPatient ? `Position : ${fmt(plane.imagePositionPatient[2])} mm` : "",
      thickness ? `Épaisseur : ${fmt(Number(thickness))} mm` : "",
    ].filter(Boolean).join("\n");
    const props = vp.getProperties();
    let windowText = "";
    if (props.voiRange) {
      const { windowWidth, windowCenter } = utilities.windowLevel.toWindowLevel(props.voiRange.lower, props.voiRange.upper);
      windowText = `F : N ${Math.round(windowCenter)} / L ${Math.round(windowWidth)}`;
      const preset = PRESETS.find((p) => p.id === this.preset);
      const fromFile = tagsOf(imageId).WindowCenter !== undefined;
      if (this.preset === "fichier") windowText += fromFile ? " (fichier)" : " (auto)";
      else if (preset) windowText += ` (${preset.label.toLowerCase()})`;
      else windowText += " (manuel)";
    }
    const zoom = this.zoomPercent();
    this.overlays.br.textContent = [
      windowText,
      props.invert ? "Inversé" : "",
      zoom ? `Zoom ${zoom} %` : "",
      `Calibration : ${calibrationOf(imageId).text}`,
    ].filter(Boolean).join("\n");
  }

  zoomPercent() {
    const vp = this.viewport;
    const image = vp.getImageData && vp.getImageData();
    if (!image) return null;
    const scale = vp.getCamera().parallelScale;
    return Math.round(((this.element.clientHeight / 2) * image.spacing[1] / scale) * 100);
  }

  // Shared viewing: what a follower needs to see what this cell shows.
  state() {
    const vp = this.viewport;
    if (!vp || !this.series) return null;
    const camera = vp.getCamera();
    const props = vp.getProperties();
    const imageId = vp.getCurrentImageId();
    const measures = (annotation.state.getAllAnnotations() || [])
      .filter((a) => a.metadata && a.metadata.referencedImageId && this.imageIds.includes(a.metadata.referencedImageId))
      .map((a) => ({
        uid: a.annotationUID,
        tool: a.metadata.toolName,
        image: this.imageIds.indexOf(a.metadata.referencedImageId),
        points: a.data.handles.points.map((p) => p.map((v) => Math.round(v * 1000) / 1000)),
      }));
    return {
      series: this.series.uid,
      index: vp.getCurrentImageIdIndex(),
      voi: props.voiRange ? { lower: props.voiRange.lower, upper: props.voiRange.upper } : null,
      invert: !!props.invert,
      preset: this.preset,
      // Zoom and pan relative to the view size, so that screens of other sizes match.
      zoom: this.zoomPercent(),
      pan: vp.getPan ? vp.getPan() : null,
      measures,
      imageId: imageId ? imageId.length : 0,
    };
  }

  async applyState(state) {
    const series = this.viewer.seriesById(state.series);
    if (!series) return;
    if (!this.series || this.series.uid !== series.uid) {
      await this.show(series, { index: state.index });
      this.viewer.markThumbs();
    }
    const vp = this.viewport;
    if (vp.getCurrentImageIdIndex() !== state.index) await vp.setImageIdIndex(state.index);
    this.preset = state.preset;
    const props = { invert: state.invert };
    if (state.voi) props.voiRange = state.voi;
    vp.setProperties(props);
    if (state.zoom) {
      const image = vp.getImageData();
      if (image) {
        const camera = vp.getCamera();
        vp.setCamera({ ...camera, parallelScale: ((this.element.clientHeight / 2) * image.spacing[1]) / (state.zoom / 100) });
      }
    }
    if (state.pan && vp.setPan) vp.setPan(state.pan);
    this.applyMeasures(state.measures || []);
    vp.render();
  }

  applyMeasures(measures) {
    const wanted = new Set(measures.map((m) => m.uid));
    for (const existing of annotation.state.getAllAnnotations() || []) {
      if (existing.metadata && this.imageIds.includes(existing.metadata.referencedImageId) && !wanted.has(existing.annotationUID)) {
        annotation.state.removeAnnotation(existing.annotationUID);
      }
    }
    const vp = this.viewport;
    for (const m of measures) {
      const points = m.points;
      const current = annotation.state.getAnnotation(m.uid);
      if (current) {
        current.data.handles.points = points;
        current.invalidated = true;
        continue;
      }
      const imageId = this.imageIds[m.image];
      if (!imageId) continue;
      const camera = vp.getCamera();
      annotation.state.addAnnotation(
        {
          annotationUID: m.uid,
          highlighted: false,
          invalidated: true,
          isLocked: true,
          isVisible: true,
          metadata: {
            toolName: m.tool,
            viewPlaneNormal: [...camera.viewPlaneNormal],
            viewUp: [...camera.viewUp],
            FrameOfReferenceUID: vp.getFrameOfReferenceUID(),
            referencedImageId: imageId,
          },
          data: { handles: { points, activeHandleIndex: null, textBox: { hasMoved: false } }, cachedStats: {}, label: "" },
        },
        this.element,
      );
    }
  }
}

function personName(value) {
  const text = value && typeof value === "object" ? value.Alphabetic : value;
  return typeof text === "string" ? text.split("=")[0].replace(/\^+/g, " ").trim() : "";
}

function dicomDate(text) {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(text || "");
  return m ? `${m[3]}/${m[2]}/${m[1]}` : text;
}

// ---------------------------------------------------------------------------------------------

class Viewer {
  constructor(cs) {
    this.cs = cs;
    this.series = [];
    this.cells = [];
    this.active = 0;
    this.layout = 1;
    this.tool = WindowLevelTool.toolName;
    this.fps = 10;
    this.grid = document.getElementById("grid");
    this.thumbs = document.getElementById("thumbs");
    this.status = document.getElementById("status");
    this.toolbar = document.getElementById("toolbar");
    this.mode = "solo";
    this.sync = null;
    this.buildToolbar();
    new ResizeObserver(() => this.cs.engine.resize(true, true)).observe(this.grid);
    document.addEventListener("fullscreenchange", () => {
      this.buttons.fullscreen.setAttribute("aria-pressed", String(!!document.fullscreenElement));
      setTimeout(() => this.cs.engine.resize(true, true), 50);
    });
    eventTarget.addEventListener(tools.Enums.Events.ANNOTATION_COMPLETED, () => this.changed());
    eventTarget.addEventListener(tools.Enums.Events.ANNOTATION_MODIFIED, () => this.changed());
    eventTarget.addEventListener(tools.Enums.Events.ANNOTATION_REMOVED, () => this.changed());
    this.setLayout(1);
  }

  button(label, title, onClick, extra = {}) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", onClick);
    Object.assign(b.dataset, extra);
    this.toolbar.appendChild(b);
    return b;
  }

  sep() {
    const s = document.createElement("span");
    s.className = "sep";
    this.toolbar.appendChild(s);
  }

  buildToolbar() {
    this.buttons = {};
    this.toolButtons = {};
    for (const t of LEFT_TOOLS) {
      this.toolButtons[t.name] = this.button(t.label, t.title, () => this.setTool(t.name), { tool: t.name });
    }
    this.button("Effacer les mesures", "Effacer les mesures de l'image affichée", () => this.clearMeasures());
    this.sep();
    const presets = document.createElement("select");
    presets.title = "Fenêtre prédéfinie";
    presets.setAttribute("aria-label", "Fenêtre");
    for (const p of PRESETS) {
      const o = document.createElement("option");
      o.value = p.id;
      o.textContent = p.width ? `${p.label} (${p.center}/${p.width})` : p.label;
      presets.appendChild(o);
    }
    const manual = document.createElement("option");
    manual.value = "manuel";
    manual.textContent = "Manuel (glisser)";
    manual.disabled = true;
    presets.appendChild(manual);
    presets.addEventListener("change", () => this.cell().setPreset(presets.value));
    this.toolbar.appendChild(presets);
    this.presetSelect = presets;
    this.button("Inverser", "Inverser les niveaux de gris", () => this.cell().toggleInvert());
    this.sep();
    this.button("Ajuster", "Image entière dans la vue", () => this.cell().fit());
    this.button("1:1", "Un pixel de l'image par pixel de l'écran", () => this.cell().oneToOne());
    this.buttons.fullscreen = this.button("Plein écran", "Plein écran (Échap pour sortir)", () => this.toggleFullscreen());
    this.sep();
    this.buttons.cine = this.button("▶ Ciné", "Défilement automatique des images", () => this.toggleCine());
    const speed = document.createElement("label");
    speed.className = "speed";
    speed.title = "Vitesse du ciné";
    const range = document.createElement("input");
    range.type = "range";
    range.min = "1";
    range.max = "30";
    range.value = String(this.fps);
    range.setAttribute("aria-label", "Vitesse du ciné (images par seconde)");
    const text = document.createElement("span");
    text.textContent = ` ${this.fps} im/s`;
    range.addEventListener("input", () => {
      this.fps = Number(range.value);
      text.textContent = ` ${this.fps} im/s`;
      if (this.cell().playing) this.cell().playCine(this.fps);
    });
    speed.append(range, text);
    this.toolbar.appendChild(speed);
    this.sep();
    this.buttons.layout1 = this.button("1 vue", "Une image", () => this.setLayout(1));
    this.buttons.layout2 = this.button("2 vues", "Deux séries côte à côte (ex. avant / après)", () => this.setLayout(2));
    this.setTool(this.tool);
  }

  setTool(name) {
    const { group } = this.cs;
    group.setToolPassive(this.tool, { removeAllBindings: true });
    if (this.tool === PanTool.toolName) group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    if (this.tool === ZoomTool.toolName) group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
    this.tool = name;
    const bindings = [{ mouseButton: MouseBindings.Primary }];
    if (name === PanTool.toolName) bindings.push({ mouseButton: MouseBindings.Auxiliary });
    if (name === ZoomTool.toolName) bindings.push({ mouseButton: MouseBindings.Secondary });
    group.setToolActive(name, { bindings });
    for (const [tool, b] of Object.entries(this.toolButtons)) b.setAttribute("aria-pressed", String(tool === name));
  }

  clearMeasures() {
    const cell = this.cell();
    for (const a of annotation.state.getAllAnnotations() || []) {
      if (a.metadata && cell.imageIds.includes(a.metadata.referencedImageId)) annotation.state.removeAnnotation(a.annotationUID);
    }
    if (cell.viewport) cell.viewport.render();
    this.changed();
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.getElementById("app").requestFullscreen().catch(() => this.say("Le plein écran est refusé par le navigateur."));
  }

  toggleCine() {
    const cell = this.cell();
    if (cell.playing) cell.stopCine();
    else cell.playCine(this.fps);
    this.buttons.cine.textContent = cell.playing ? "■ Arrêter" : "▶ Ciné";
    this.buttons.cine.setAttribute("aria-pressed", String(!!cell.playing));
  }

  cell() {
    return this.cells[this.active] || this.cells[0];
  }

  activate(index) {
    if (index === this.active || !this.cells[index]) return;
    this.active = index;
    this.cells.forEach((c, i) => c.root.classList.toggle("active", i === index));
    this.presetSelect.value = this.cell().preset;
    this.markThumbs();
  }

  setLayout(count) {
    while (this.cells.length > count) this.cells.pop().disable();
    this.cells.forEach((c) => c.root.remove());
    for (let i = this.cells.length; i < count; i++) this.cells.push(new Cell(this, i));
    this.grid.className = `grid l${count}`;
    this.cells.forEach((c) => this.grid.appendChild(c.root));
    for (const c of this.cells) if (!this.cs.engine.getViewport(c.viewportId)) c.enable();
    this.cs.engine.resize(true, true);
    this.layout = count;
    if (this.active >= count) this.active = 0;
    this.cells.forEach((c, i) => c.root.classList.toggle("active", i === this.active));
    this.buttons.layout1.setAttribute("aria-pressed", String(count === 1));
    this.buttons.layout2.setAttribute("aria-pressed", String(count === 2));
    if (count === 2 && !this.cells[1].series && this.series.length) {
      const other = this.series.find((s) => s !== this.cells[0].series) || this.series[0];
      this.cells[1].show(other);
    }
    this.markThumbs();
    this.changed();
  }

  seriesById(uid) {
    return this.series.find((s) => s.uid === uid);
  }

  async load(series) {
    const same = JSON.stringify(series) === JSON.stringify(this.series);
    if (same) return;
    this.series = series;
    this.buildThumbs();
    if (series.length) await this.cells[0].show(series[0]);
    this.markThumbs();
  }

  buildThumbs() {
    this.thumbs.textContent = "";
    this.thumbButtons = [];
    this.series.forEach((s) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "thumb";
      b.title = s.label;
      b.dataset.series = s.uid;
      const canvas = document.createElement("canvas");
      canvas.width = 100;
      canvas.height = 100;
      const label = document.createElement("span");
      label.textContent = s.label;
      b.append(canvas, label);
      b.addEventListener("click", () => this.pick(s));
      this.thumbs.appendChild(b);
      this.thumbButtons.push(b);
      // The middle image of the series, drawn once it is loaded.
      const ids = imageIdsOf(s);
      const id = ids[Math.floor((ids.length - 1) / 2)];
      const work = document.createElement("canvas");
      utilities
        .loadImageToCanvas({ canvas: work, imageId: id, thumbnail: true })
        .then(() => {
          const scale = Math.min(canvas.width / work.width, canvas.height / work.height);
          const w = work.width * scale;
          const h = work.height * scale;
          canvas.getContext("2d").drawImage(work, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
        })
        .catch(() => {
          label.textContent = `${s.label} (illisible)`;
        });
    });
  }

  markThumbs() {
    const current = this.cell() && this.cell().series;
    for (const b of this.thumbButtons || []) b.classList.toggle("active", !!current && b.dataset.series === current.uid);
  }

  async pick(series) {
    if (this.mode === "follow") this.unfollow();
    await this.cell().show(series);
    this.markThumbs();
  }

  say(text, kind = "") {
    this.status.className = `status ${kind}`;
    this.status.textContent = text;
  }

  // Shared viewing -------------------------------------------------------------------------
  snapshot() {
    return { layout: this.layout, active: this.active, cells: this.cells.map((c) => c.state()) };
  }

  changed() {
    if (this.applying) return;
    if (this.mode === "present" && this.sync) this.sync.publish(this.snapshot());
  }

  async applySnapshot(snap) {
    if (!snap || !snap.cells) return;
    this.applying = true;
    try {
      if (snap.layout !== this.layout) this.setLayout(snap.layout);
      for (let i = 0; i < snap.cells.length && i < this.cells.length; i++) {
        if (snap.cells[i]) await this.cells[i].applyState(snap.cells[i]);
      }
      window.__rcpViewer.applied = (window.__rcpViewer.applied || 0) + 1;
      window.__rcpViewer.lastApplied = snap;
    } finally {
      this.applying = false;
    }
  }

  configureSync(args) {
    const wanted = args.sync ? `${args.sync.mode}:${args.sync.url}:${args.sync.case_id}` : "";
    if (wanted === this.syncKey) return;
    this.syncKey = wanted;
    if (this.sync) this.sync.close();
    this.sync = null;
    this.mode = "solo";
    this.say("");
    if (!args.sync) return;
    this.sync = new SyncChannel(args.sync.url, args.sync.case_id);
    if (args.sync.mode === "present") {
      this.mode = "present";
      this.say("Vous présentez : les participants qui suivent voient vos images, votre fenêtre, votre zoom et vos mesures.", "present");
      this.changed();
    } else {
      this.follow();
    }
  }

  follow() {
    this.mode = "follow";
    this.status.className = "status follow";
    this.status.textContent = "Vous suivez la présentation.";
    const free = document.createElement("button");
    free.type = "button";
    free.textContent = "Regarder librement";
    free.addEventListener("click", () => this.unfollow());
    this.status.appendChild(free);
    this.sync.subscribe((snap) => this.applySnapshot(snap));
  }

  unfollow() {
    if (!this.sync) return;
    this.sync.unsubscribe();
    this.mode = "free";
    this.status.className = "status";
    this.status.textContent = "Vous regardez librement.";
    const back = document.createElement("button");
    back.type = "button";
    back.textContent = "Suivre la présentation";
    back.addEventListener("click", () => this.follow());
    this.status.appendChild(back);
  }
}

// ---------------------------------------------------------------------------------------------

window.__rcpViewer = { ready: false };
let viewer = null;
let lastHeight = 0;

function fitHeight(args) {
  // The whole viewer fits the browser window (a 1366 × 768 laptop shows it without scrolling).
  let available = 600;
  try {
    available = window.parent.innerHeight;
  } catch (_) {
    /* another origin: keep the default */
  }
  const height = Math.max(380, Math.min(args.max_height || 900, available - (args.margin || 150)));
  if (Math.abs(height - lastHeight) > 2) {
    lastHeight = height;
    setFrameHeight(height);
  }
}

onRender(async (args) => {
  fitHeight(args);
  if (!ready) ready = setup();
  const cs = await ready;
  if (!viewer) {
    viewer = new Viewer(cs);
    window.__rcpViewer.viewer = viewer;
    window.__rcpViewer.cache = cache;
    window.__rcpViewer.imageLoader = imageLoader;
    window.__rcpViewer.metaData = metaData;
    // What the measurements say on screen (the browser tests read it).
    window.__rcpViewer.measureTexts = () =>
      (annotation.state.getAllAnnotations() || []).flatMap((a) =>
        Object.keys(a.data.cachedStats || {}).flatMap(
          (target) => (a.metadata.toolName === LengthTool.toolName ? lengthLines : roiLines)(a.data, target) || [],
        ),
      );
  }
  await viewer.load(args.series || []);
  viewer.configureSync(args);
  window.__rcpViewer.ready = true;
});
