import { z } from 'zod';
import { booleanQuery } from '../../lib/http';

export const exportQuery = z
  .object({
    /** true: answer when the file is written, with the run; false: 202 as soon as it starts. */
    wait: booleanQuery.default(false),
  })
  .strict();
