import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A package handed over from one hand to another: a box with an arrow.
 */
const handoverSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 7.5 12 3l9 4.5v9L12 21l-9-4.5v-9Zm2 1.6v6.2l6 3v-6.2l-6-3Zm8 3v6.2l6-3V9.1l-6 3ZM6.2 7.5 12 10.4l5.8-2.9L12 4.6 6.2 7.5Z"/>
    <path d="M14.5 13.5h3.2l-1.2-1.2.9-.9 2.8 2.8-2.8 2.8-.9-.9 1.2-1.2h-3.2v-1.4Z"/>
  </g>
</svg>`;

export const handoverIcon = new LabIcon({
  name: 'jupyter-handover:icon',
  svgstr: handoverSvg
});
